"""Run metadata: process facts, settings, git read from a real repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest

from logwriter.machine.gitinfo import git_info, strip_credentials
from logwriter.machine.metadata import collect, os_name, run_record
from logwriter.session.settings import RECORDED_SETTINGS

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git binary not installed")

SETTINGS = {
    "run_id": "abc123xy",
    "project": "proj",
    "name": "baseline",
    "mode": "offline",
    "tags": ("a", "b"),
    "notes": None,
    "group": "sweep-1",
    "job_type": "train",
    "dir": "/somewhere",  # not a fact about the run: left out
    "server": "https://user:secret@mlflow.example",  # may carry credentials: left out
}


def git(repo: Path, *args: str) -> str:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    proc = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("print('hi')\n")
    git(root, "add", "train.py")
    git(root, "commit", "-q", "-m", "first")
    git(root, "remote", "add", "origin", "https://alice:ghp_t0ken@github.example/org/repo.git")
    (root / "sub").mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    return root


def round_trip(value: object) -> object:
    return msgpack.unpackb(msgpack.packb(value), strict_map_key=False)


@needs_git
def test_inside_a_repo(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / "sub")  # a subdirectory of the work tree still finds .git
    meta = collect(SETTINGS)
    assert meta["git"] == {
        "commit": git(repo, "rev-parse", "HEAD"),
        "branch": "main",
        "remote": "https://github.example/org/repo.git",
        "dirty": False,
    }
    assert "ghp_t0ken" not in repr(meta)
    assert round_trip(meta) == meta


@needs_git
def test_dirty_flips_on_tracked_edit_not_on_untracked_file(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    (repo / "scratch.txt").write_text("untracked\n")
    assert git_info(str(repo))["dirty"] is False  # type: ignore[index]
    (repo / "train.py").write_text("print('changed')\n")
    assert collect({})["git"]["dirty"] is True


@needs_git
def test_packed_refs_detached_head_and_second_remote(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    info = git_info(str(repo))
    assert info is not None and info["commit"] == head and info["branch"] == "main"

    git(repo, "checkout", "-q", "--detach")
    git(repo, "remote", "rename", "origin", "upstream")
    git(repo, "config", "remote.upstream.url", "ssh://git:pw@git.example:2222/org/repo.git")
    info = git_info(str(repo))
    assert info is not None
    assert info["commit"] == head and info["branch"] is None
    assert info["remote"] == "ssh://git@git.example:2222/org/repo.git"  # no origin: first remote


@needs_git
def test_unborn_branch_and_linked_worktree(repo: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q", "-b", "dev")
    info = git_info(str(fresh))
    assert info is not None
    assert info["commit"] is None and info["branch"] == "dev" and info["remote"] is None

    git(repo, "branch", "feature")
    git(repo, "commit", "-q", "--allow-empty", "-m", "second on main")
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(wt), "feature")
    assert (wt / ".git").is_file()
    info = git_info(str(wt))
    assert info is not None
    assert info["branch"] == "feature"
    assert info["commit"] == git(wt, "rev-parse", "HEAD") != git(repo, "rev-parse", "HEAD")
    assert info["remote"] == "https://github.example/org/repo.git"  # config of the main repo
    assert info["dirty"] is False


def test_outside_any_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "plain").mkdir()
    monkeypatch.chdir(tmp_path / "plain")
    meta = collect(SETTINGS)
    assert "git" not in meta
    assert meta["pid"] == os.getpid()
    assert meta["cwd"] == str(tmp_path / "plain")
    assert meta["argv"] == sys.argv
    assert meta["executable"] == sys.executable
    assert meta["python"].count(".") == 2
    assert isinstance(meta["host"], str) and meta["host"]
    assert isinstance(meta["started"], float)
    assert meta["tags"] == ["a", "b"]  # tuple made a plain list
    assert {k for k in RECORDED_SETTINGS if SETTINGS.get(k) is not None} <= set(meta)
    assert "notes" not in meta and "dir" not in meta and "server" not in meta
    assert round_trip(meta) == meta


def test_missing_git_binary_gives_unknown_dirty(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commit/branch/remote come from files; only dirty needs git, and becomes None."""
    if shutil.which("git") is None:
        pytest.skip("git binary not installed")
    head = git(repo, "rev-parse", "HEAD")
    monkeypatch.setenv("PATH", str(repo / "no-such-bin"))
    info = git_info(str(repo))
    assert info == {
        "commit": head,
        "branch": "main",
        "remote": "https://github.example/org/repo.git",
        "dirty": None,
    }


def test_settings_that_misbehave_cost_keys_not_exceptions() -> None:
    class Exploding(dict):
        def get(self, key: object, default: object = None) -> object:
            raise RuntimeError("broken mapping")

    meta = collect(Exploding())
    assert "pid" in meta and "run_id" not in meta
    odd = collect({"tags": {"x", "y"}, "notes": Path("/n"), "name": 3})
    assert odd["tags"] == ["x", "y"] and odd["notes"] == "/n" and odd["name"] == 3
    assert round_trip(odd) == odd


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:token@host/org/r.git", "https://host/org/r.git"),
        ("https://ghp_only@github.com/o/r", "https://github.com/o/r"),
        ("HTTP://u:p@ss@host:8080/r", "HTTP://host:8080/r"),
        ("https://github.com/o/r.git", "https://github.com/o/r.git"),
        ("ssh://git@host/o/r.git", "ssh://git@host/o/r.git"),
        ("ssh://git:secret@host/o/r.git", "ssh://git@host/o/r.git"),
        ("git+ssh://:secret@host/r", "git+ssh://host/r"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("/srv/git/repo.git", "/srv/git/repo.git"),
        ("file:///srv/a@b/repo", "file:///srv/a@b/repo"),
    ],
)
def test_strip_credentials(url: str, expected: str) -> None:
    assert strip_credentials(url) == expected


@pytest.mark.skipif(sys.platform != "linux", reason="glibc naming checked on Linux")
def test_os_name_matches_platform_without_a_subprocess() -> None:
    import platform

    assert os_name() == platform.platform()


def test_run_record_names_every_recorded_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    body = run_record({"run_id": "r1", "project": "p", "tags": ("a", "b"), "dir": "/secret"})
    assert set(RECORDED_SETTINGS) <= set(body)
    assert body["run_id"] == "r1" and body["tags"] == ["a", "b"] and body["notes"] is None
    assert "dir" not in body and body["pid"] == os.getpid() and "started" in body
    assert msgpack.unpackb(msgpack.packb(body)) == body
