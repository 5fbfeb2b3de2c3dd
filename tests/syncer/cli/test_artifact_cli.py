"""`runwal artifact get` against the real MLflow server: a version or alias found among
what `runwal sync` uploaded, one line and exit 1 when it is not there, --into
downloads checked by sha256, and the --json answer the SDK's use_artifact() reads."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mediautil import counting_rest
from runbuilder import T0, artifact_entry, artifact_record, build_run
from schema import artifact_protocol as protocol
from schema.records import RecordType as R
from syncer.cli.main import main
from syncer.sinks.mlflow.loopback_server import LocalMlflowServer
from syncer.sinks.mlflow.rest import MlflowRest, build_client

EXIT = (R.EXIT, T0 + 99, {"code": 0, "status": "finished", "runtime": 99.0})
PROJECT = "p-artcli"
FILES = {"train.csv": b"x,y\n1,2\n", "sub/odd name+1.txt": b"cat\ndog\n"}


@pytest.fixture(scope="module")
def server(mlflow_server: LocalMlflowServer, tmp_path_factory: pytest.TempPathFactory
           ) -> dict[str, Any]:
    """One run synced: data:v0 (aliases best, latest; two files and a reference), then
    data:v1 (one file, latest)."""
    tmp = tmp_path_factory.mktemp("artcli")
    root = tmp / "artcli01"
    a, b = (artifact_entry(root, path, data) for path, data in FILES.items())
    ref = {"path": "raw", "ref": "s3://bucket/raw/"}
    v0 = artifact_record(T0 + 1, "data", 0, [a, b, ref], aliases=["best", "latest"],
                         description="the set")
    v1 = artifact_record(T0 + 2, "data", 1, [a], aliases=["latest"])
    rd = build_run(tmp, [(R.RUN, T0, {"host": "h"}), v0, v1, EXIT], run_id="artcli01",
                   project=PROJECT)
    with counting_rest(mlflow_server.uri) as cr:
        server_run = cr.synced(rd).server_run_id
    return {"uri": mlflow_server.uri, "server_run": server_run, "v0": v0[2], "v1": v1[2]}


def runwal(*args: object) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, [str(a) for a in args])
    return res.exit_code, res.stdout, res.stderr


def get(server: dict[str, Any], *args: object) -> tuple[int, str, str]:
    return runwal("artifact", "get", *args, "--to", server["uri"])


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_found_by_alias_and_by_version(server: dict[str, Any]) -> None:
    code, out, err = get(server, "data:best", "--project", PROJECT)
    assert code == 0 and err == ""
    assert out.startswith("data:v0  type dataset") and "aliases best, latest" in out
    assert f"from run artcli01 (MLflow run {server['server_run']})" in out
    assert "sub/odd name+1.txt" in out and "s3://bucket/raw/" in out
    code, out, _ = get(server, "data", "--project", PROJECT)  # latest
    assert code == 0 and out.startswith("data:v1 ")
    code, out, _ = get(server, "data:v0", "--run", server["server_run"])
    assert code == 0 and out.startswith("data:v0 ")


def test_json_is_one_found_line(server: dict[str, Any]) -> None:
    code, out, err = get(server, "data:best", "--project", PROJECT, "--json")
    assert code == 0 and err == "" and len(out.splitlines()) == 1
    answer = protocol.parse_answer(out)
    assert answer is not None and answer.status == protocol.FOUND
    assert (answer.name, answer.version, answer.source_run, answer.server_run) == (
        "data", 0, "artcli01", server["server_run"])
    assert answer.manifest["digest"] == server["v0"]["digest"]
    assert answer.manifest["aliases"] == ["best", "latest"]
    assert answer.where.startswith(server["uri"]) and answer.where.endswith("/data/v0")
    assert answer.files == [] and answer.into == ""


def test_not_found_is_one_line_and_exit_1(server: dict[str, Any]) -> None:
    for args, says in ((("data:nope", "--project", PROJECT), "its runs logged v0, v1"),
                       (("data:v7", "--project", PROJECT), "no 'v7' of 'data'"),
                       (("other", "--project", PROJECT), "logged an artifact named 'other'"),
                       (("data", "--project", "no-such-project"), "no experiment")):
        code, out, err = get(server, *args)
        assert code == 1 and out == "", args
        assert len(err.splitlines()) == 1 and err.startswith("runwal: error: ") and says in err
        code, out, err = get(server, *args, "--json")
        answer = protocol.parse_answer(out)
        assert code == 1 and len(out.splitlines()) == 1 and err == ""
        assert answer is not None and answer.status == protocol.NOT_FOUND and says in answer.message


def test_usage_mistakes_exit_2(server: dict[str, Any]) -> None:
    for args in (("data:", "--project", PROJECT), ("data",),
                 ("data", "--project", PROJECT, "--path", "train.csv")):
        code, out, err = get(server, *args)
        assert code == 2 and out == "" and len(err.splitlines()) == 1, args


def test_into_downloads_every_file_checked(server: dict[str, Any], tmp_path: Path) -> None:
    code, out, err = get(server, "data:best", "--project", PROJECT, "--into", tmp_path / "dl")
    assert code == 0 and err == "" and "downloaded 2 files (16 B)" in out
    assert _tree(tmp_path / "dl") == FILES  # the reference is listed, not fetched
    code, out, _ = get(server, "data:v0", "--run", server["server_run"], "--json",
                       "--into", tmp_path / "one", "--path", "sub/odd name+1.txt")
    answer = protocol.parse_answer(out)
    assert code == 0 and answer is not None and answer.files == ["sub/odd name+1.txt"]
    assert answer.into == str((tmp_path / "one").resolve())
    assert _tree(tmp_path / "one") == {"sub/odd name+1.txt": FILES["sub/odd name+1.txt"]}


def test_a_file_that_is_not_what_the_manifest_says_is_refused(
        server: dict[str, Any], tmp_path: Path) -> None:
    """Bytes replaced on the server: exit 1 naming the sha256, nothing left in DIR."""
    with build_client() as http:
        rest = MlflowRest(server["uri"], http)
        run = rest.get_run(server["server_run"])
        assert run is not None
        root = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/").strip("/")
        rest.put_artifact(root, "artifacts/data/v1/train.csv", data=b"x,y\n6,6\n")
        try:
            code, out, err = get(server, "data:v1", "--project", PROJECT,
                                 "--into", tmp_path / "dl")
            assert code == 1 and out == "" and len(err.splitlines()) == 1
            assert "has sha256" in err and "the manifest says" in err
            assert _tree(tmp_path / "dl") == {}
        finally:
            rest.put_artifact(root, "artifacts/data/v1/train.csv", data=FILES["train.csv"])


def test_the_sdks_command_with_credentials_in_the_uri(server: dict[str, Any],
                                                      tmp_path: Path) -> None:
    """What use_artifact() runs: the URI with a password travels in the environment, and
    nothing the child prints repeats it."""
    uri = server["uri"].replace("http://", "http://user:s3cret@")
    cmd, env = protocol.command("data:best", PROJECT, uri, deadline=5, into=str(tmp_path))
    assert not any("s3cret" in arg for arg in cmd)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    answer = protocol.parse_answer(proc.stdout)
    assert answer is not None and answer.status == protocol.FOUND and answer.version == 0
    assert sorted(answer.files) == sorted(FILES) and _tree(tmp_path) == FILES
    assert "s3cret" not in proc.stdout + proc.stderr
