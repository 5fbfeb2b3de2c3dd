"""Git facts for the run record: commit, branch, remote and dirty, read from ``.git``.

Why read git's files instead of running ``git``: a training job starts on a
busy cluster node, sometimes in a container without ``git``, sometimes in a
huge repository on NFS. ``.git/HEAD``, the ref files, ``packed-refs`` and
``config`` answer commit/branch/remote in a few small reads. Only ``dirty``
needs git itself (it compares the work tree with the index); it runs with a
short timeout and ``GIT_OPTIONAL_LOCKS=0`` so it never takes ``index.lock``
from under the user's own git commands, and comes out as ``None`` when git is
missing, slow or refuses the repository.

Remote URLs are stored without credentials: ``https://user:token@host/x`` is
recorded as ``https://host/x`` because run records get copied, synced and
shown to other people.

Never raises on a broken or odd repository: what cannot be read comes out as
``None`` (or no ``git`` at all outside a work tree).
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

GIT_STATUS_TIMEOUT = 2.0

_SHA_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_USERINFO_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#]*)@")
_SECTION_RE = re.compile(r'^\[\s*([A-Za-z0-9.\-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]')


def strip_credentials(url: str) -> str:
    """Remove secrets from a remote URL before it is recorded.

    For web schemes the whole user-info goes (a lone token is often put where
    the user name goes: ``https://ghp_xxx@github.com/...``); for ssh-like
    schemes only a password is dropped, since ``ssh://git@host`` names the
    login, not a secret. scp-style ``git@host:org/repo`` has no secret and is
    kept as is.
    """
    match = _USERINFO_RE.match(url)
    if match is None:
        return url
    scheme, userinfo = match.group(1), match.group(2)
    if scheme.lower().rstrip(":/") in ("http", "https", "ftp", "ftps"):
        return scheme + url[match.end() :]
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{user}@{url[match.end() :]}" if user else scheme + url[match.end() :]


def git_info(start: str) -> dict[str, Any] | None:
    """``{commit, branch, remote, dirty}`` for the work tree containing ``start``, else None."""
    found = _find_git_dir(start)
    if found is None:
        return None
    work_tree, git_dir = found
    common_dir = _common_dir(git_dir)
    head = _read(os.path.join(git_dir, "HEAD"))
    if head is None:
        return None
    commit: str | None = None
    branch: str | None = None
    head = head.strip()
    if head.startswith("ref:"):
        ref = head[4:].strip()
        branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref
        if ref == "refs/heads/.invalid":  # reftable storage: refs are not plain files
            commit, branch = _git_cmd_head(work_tree)
        else:
            commit = _resolve_ref(ref, git_dir, common_dir)
    elif _SHA_RE.match(head):
        commit = head  # detached HEAD
    return {
        "commit": commit,
        "branch": branch,
        "remote": _remote_url(common_dir),
        "dirty": _is_dirty(work_tree),
    }


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _find_git_dir(start: str) -> tuple[str, str] | None:
    """Walk up from ``start`` to the first ``.git`` (a directory, or a file as in
    worktrees and submodules), honouring ``GIT_CEILING_DIRECTORIES`` like git."""
    ceilings = {
        os.path.realpath(p)
        for p in os.environ.get("GIT_CEILING_DIRECTORIES", "").split(os.pathsep)
        if p
    }
    here = os.path.realpath(start)
    while True:
        dot_git = os.path.join(here, ".git")
        if os.path.isdir(dot_git):
            if os.path.isfile(os.path.join(dot_git, "HEAD")):
                return here, dot_git
        elif os.path.isfile(dot_git):
            text = _read(dot_git) or ""
            if text.startswith("gitdir:"):
                target = text[len("gitdir:") :].strip()
                return here, os.path.normpath(os.path.join(here, target))
        parent = os.path.dirname(here)
        if parent == here or parent in ceilings:
            return None
        here = parent


def _common_dir(git_dir: str) -> str:
    """A linked worktree's git dir keeps HEAD; refs and config live in the common dir."""
    pointer = _read(os.path.join(git_dir, "commondir"))
    if pointer is None:
        return git_dir
    return os.path.normpath(os.path.join(git_dir, pointer.strip()))


def _resolve_ref(ref: str, git_dir: str, common_dir: str, depth: int = 0) -> str | None:
    """Follow a ref to a commit via loose ref files, then ``packed-refs``."""
    if depth > 5:
        return None
    for base in dict.fromkeys((git_dir, common_dir)):
        text = _read(os.path.join(base, ref))
        if text is None:
            continue
        text = text.strip()
        if text.startswith("ref:"):
            return _resolve_ref(text[4:].strip(), git_dir, common_dir, depth + 1)
        return text if _SHA_RE.match(text) else None
    packed = _read(os.path.join(common_dir, "packed-refs")) or ""
    for line in packed.splitlines():
        if line.startswith(("#", "^")):
            continue
        sha, _, name = line.partition(" ")
        if name.strip() == ref and _SHA_RE.match(sha):
            return sha
    return None  # unborn branch: no commit yet


def _remote_url(common_dir: str) -> str | None:
    """``remote.origin.url`` from the repository config, else the first remote's URL."""
    urls: dict[str, str] = {}
    section: tuple[str, str | None] | None = None
    for raw in (_read(os.path.join(common_dir, "config")) or "").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        match = _SECTION_RE.match(line)
        if match:
            section = (match.group(1).lower(), match.group(2))
            line = line[match.end() :].strip()
            if not line:
                continue
        if section is None or section[0] != "remote" or section[1] is None:
            continue
        key, eq, value = line.partition("=")
        if eq and key.strip().lower() == "url":
            urls.setdefault(section[1], _config_value(value))
    url = urls.get("origin") or next(iter(urls.values()), None)
    return strip_credentials(url) if url else None


def _config_value(value: str) -> str:
    """Unquote a git config value and drop a trailing comment."""
    out: list[str] = []
    quoted = False
    chars = iter(value.strip())
    for ch in chars:
        if ch == "\\":
            out.append(next(chars, ""))
        elif ch == '"':
            quoted = not quoted
        elif ch in "#;" and not quoted:
            break
        else:
            out.append(ch)
    return "".join(out).strip()


def _git(work_tree: str, *args: str) -> str | None:
    """Run git in ``work_tree`` with a short timeout; None if it fails in any way."""
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=work_tree,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=GIT_STATUS_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", errors="replace")


def _is_dirty(work_tree: str) -> bool | None:
    """True if a tracked file differs from HEAD (untracked files do not count)."""
    text = _git(work_tree, "status", "--porcelain", "--untracked-files=no")
    return None if text is None else bool(text.strip())


def _git_cmd_head(work_tree: str) -> tuple[str | None, str | None]:
    commit = _git(work_tree, "rev-parse", "--verify", "-q", "HEAD")
    branch = _git(work_tree, "symbolic-ref", "-q", "--short", "HEAD")
    return (commit.strip() or None) if commit else None, (
        branch.strip() or None
    ) if branch else None
