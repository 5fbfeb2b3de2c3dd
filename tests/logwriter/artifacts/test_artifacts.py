"""Artifacts: versions by content across runs of one runs directory, aliases, add_dir,
references, new_file, use_artifact's download and lineage record, errors, symlinks."""

from __future__ import annotations

import ast
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import pytest

import logwriter
from logwriter import Artifact
from logwriter.artifacts import ArtifactError, ArtifactNotFound
from logwriter_util import QUIET, of_kind, read_clean


def _init(runs: Path, **kw: object) -> logwriter.Run:
    kw.setdefault("project", "p")
    return logwriter.init(dir=runs, **QUIET, **kw)  # type: ignore[arg-type]


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    (d / "sub" / "deeper").mkdir(parents=True)
    (d / "a.txt").write_text("alpha")
    (d / "sub" / "b.bin").write_bytes(bytes(range(256)) * 40)
    (d / "sub" / "deeper" / "c.json").write_text('{"c": 3}')
    return d


def test_versions_by_content_across_runs_and_the_record(tmp_path: Path, src: Path) -> None:
    runs = tmp_path / "runs"
    run1 = _init(runs)
    art = Artifact("data", "dataset", description="three files", metadata={"rows": 3})
    art.add_dir(src, name="d")
    art.add_reference("s3://bucket/raw/", name="raw")
    with art.new_file("notes/readme.txt") as fh:
        fh.write("made by new_file")
    logged = run1.log_artifact(art, aliases=["best", "best"])
    assert logged is art and art.version == "v0" and art.aliases == ["best", "latest"]
    run1.finish()

    (body,) = of_kind(read_clean(run1.run_dir), "artifact")
    assert list(body) == ["name", "type", "version", "digest", "aliases", "description",
                          "metadata", "entries"]
    assert (body["name"], body["type"], body["version"]) == ("data", "dataset", 0)
    assert body["description"] == "three files" and body["metadata"] == {"rows": 3}
    assert body["aliases"] == ["best", "latest"]
    b = (src / "sub" / "b.bin").read_bytes()
    c = b'{"c": 3}'
    assert body["entries"] == [
        {"path": "d/a.txt", "size": 5, "sha256": _sha(b"alpha"),
         "file": f"artifacts/{_sha(b'alpha')}"},
        {"path": "d/sub/b.bin", "size": len(b), "sha256": _sha(b), "file": f"artifacts/{_sha(b)}"},
        {"path": "d/sub/deeper/c.json", "size": 8, "sha256": _sha(c),
         "file": f"artifacts/{_sha(c)}"},
        {"path": "notes/readme.txt", "size": 16, "sha256": _sha(b"made by new_file"),
         "file": f"artifacts/{_sha(b'made by new_file')}"},
        {"path": "raw", "ref": "s3://bucket/raw/"},
    ]
    lines = sorted(f"{e['path']}:{e.get('sha256') or e['ref']}\n" for e in body["entries"])
    assert body["digest"] == _sha("".join(lines).encode()) == art.digest
    # The store holds real copies named by their content.
    store = Path(run1.run_dir) / "files" / "artifacts"
    assert sorted(p.name for p in store.iterdir()) == sorted(
        {_sha(b"alpha"), _sha(b), _sha(c), _sha(b"made by new_file")})
    assert all(p.is_file() and not p.is_symlink() for p in store.iterdir())

    # A second run in the same runs directory: same content -> v0 again, new -> v1.
    run2 = _init(runs)
    again = Artifact("data", "dataset")
    again.add_dir(src, name="d")
    again.add_reference("s3://bucket/raw/", name="raw")
    with again.new_file("notes/readme.txt", mode="wb") as fh:
        fh.write(b"made by new_file")
    assert run2.log_artifact(again).version == "v0"
    changed = Artifact("data", "dataset")
    changed.add_file(src / "a.txt")
    assert run2.log_artifact(changed, aliases="small").version == "v1"
    other = Artifact("other", "dataset")
    other.add_file(src / "a.txt")
    assert run2.log_artifact(other).version == "v0"  # versions are per name
    run2.finish()
    versions = [(b["name"], b["version"], b["aliases"])
                for b in of_kind(read_clean(run2.run_dir), "artifact")]
    assert versions == [("data", 0, ["latest"]), ("data", 1, ["small", "latest"]),
                        ("other", 0, ["latest"])]


def test_use_artifact_downloads_identical_bytes_and_records_lineage(
        tmp_path: Path, src: Path) -> None:
    runs = tmp_path / "runs"
    producer = _init(runs, name="producer")
    art = Artifact("data", "dataset")
    art.add_dir(src)
    art.add_reference("https://example.com/big.tar", name="big.tar")
    producer.log_artifact(art, aliases=["prod"])
    v1 = Artifact("data", "dataset")
    v1.add_file(src / "a.txt", name="only.txt")
    producer.log_artifact(v1)
    producer.finish()

    consumer = _init(runs, name="consumer")
    used = consumer.use_artifact("data:prod")
    assert (used.version, used.source_run, used.type) == ("v0", producer.id, "dataset")
    root = Path(used.download(tmp_path / "dl"))
    assert _tree(root) == _tree(src)  # the reference is listed, not fetched
    assert used.get_entry("big.tar").ref == "https://example.com/big.tar"
    assert Path(used.get_path("sub/b.bin").download(tmp_path / "one")).read_bytes() == \
        (src / "sub" / "b.bin").read_bytes()
    latest = consumer.use_artifact("data:latest")
    assert latest.version == "v1"
    assert Path(latest.file(tmp_path / "f")).read_text() == "alpha"
    assert consumer.use_artifact("data").version == "v1"
    assert consumer.use_artifact("me/proj/data:v0", type="dataset").digest == art.digest
    consumer.finish()
    uses = of_kind(read_clean(consumer.run_dir), "artifact_use")
    assert uses[0] == {"name": "data", "type": "dataset", "version": 0, "digest": art.digest,
                       "source_run": producer.id, "asked": "data:prod"}
    assert [(u["asked"], u["version"]) for u in uses[1:]] == [
        ("data:latest", 1), ("data", 1), ("me/proj/data:v0", 0)]


def test_use_right_after_log_in_one_run_and_module_level_api(tmp_path: Path) -> None:
    f = tmp_path / "model.pt"
    f.write_bytes(b"weights")
    logwriter.init(project="p", dir=tmp_path / "runs", **QUIET)
    model = logwriter.log_model(f, aliases=["candidate"])
    assert model.type == "model" and model.name.endswith("-model.pt")
    assert model.name == f"run-{logwriter.run.id}-model.pt"  # type: ignore[union-attr]
    back = logwriter.use_artifact(f"{model.name}:candidate")  # before the writer flushed
    assert Path(back.file(tmp_path / "out")).read_bytes() == b"weights"
    plain = logwriter.log_artifact(str(f), name="ckpt", type="checkpoint")
    assert (plain.name, plain.version, plain.type) == ("ckpt", "v0", "checkpoint")
    logwriter.finish()


def test_bad_names_aliases_and_missing_artifacts_are_clear(tmp_path: Path, src: Path) -> None:
    for bad in ("", "a:b", "a/b", "..", "x" * 129):
        with pytest.raises(ArtifactError, match="not valid"):
            Artifact(bad, "dataset")
    with pytest.raises(ArtifactError):
        Artifact("ok", "bad type")
    with pytest.raises(ArtifactError, match="keys must be str"):
        Artifact("ok", "dataset", metadata={1: "x"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="metadata"):
        Artifact("ok", "dataset", metadata={"bad\udce9": 1})
    with pytest.raises(TypeError, match="metadata"):
        Artifact("ok", "dataset", metadata={"obj": object()})
    art = Artifact("ok", "dataset")
    for bad_path in ("../up", "/abs", "a//b", "a/./b"):
        with pytest.raises(ArtifactError, match="entry name"):
            art.add_file(src / "a.txt", name=bad_path)
    art.add_file(src / "a.txt")
    with pytest.raises(ArtifactError, match=r"already has an entry 'a\.txt'"):
        art.add_file(src / "a.txt")
    with pytest.raises(ArtifactError, match="not a file"):
        art.add_file(src / "missing")
    run = _init(tmp_path / "runs")
    with pytest.raises(ArtifactError, match="looks like a version"):
        run.log_artifact(art, aliases=["v2"])
    with pytest.raises(ArtifactError, match="no entries"):
        run.log_artifact(Artifact("empty", "dataset"))
    run.log_artifact(art, aliases=["best"])
    with pytest.raises(ArtifactError, match="is logged"):
        art.add_file(src / "a.txt", name="more.txt")
    with pytest.raises(ArtifactNotFound) as info:
        run.use_artifact("ok:nope")
    text = str(info.value)
    assert "1 run searched" in text and "versions v0 and aliases best, latest" in text
    assert str(tmp_path / "runs") in text
    with pytest.raises(ArtifactNotFound, match="no run there logged an artifact named 'nada'"):
        run.use_artifact("nada:latest")
    with pytest.raises(ArtifactNotFound, match="v7"):
        run.use_artifact("ok:v7")
    with pytest.raises(ArtifactError, match="not valid"):
        run.use_artifact("ok:")
    with pytest.raises(ArtifactError, match="type"):
        run.use_artifact("ok:latest", type="model")
    with pytest.raises(ArtifactError, match="not logged"):
        run.use_artifact(Artifact("fresh", "dataset"))
    run.finish()
    assert of_kind(read_clean(run.run_dir), "artifact_use") == []


def test_a_configured_server_is_named_when_nothing_is_found_offline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _init(tmp_path / "runs", mode="offline")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://user:pw@tracking.example:5000")
    with pytest.raises(ArtifactNotFound) as info:
        run.use_artifact("data:latest")
    assert "http://tracking.example:5000" in str(info.value) and "pw" not in str(info.value)
    assert "mode 'offline' does not ask it" in str(info.value)
    run.finish()


def test_use_artifact_from_the_tracking_server(tmp_path: Path, src: Path,
                                               mlflow_uri: str) -> None:
    online = {"mode": "online", "server": mlflow_uri}
    producer = _init(tmp_path / "a", project="arts", **online)
    art = Artifact("srv-data", "dataset", description="d", metadata={"k": 1})
    art.add_dir(src)
    art.add_reference("s3://bucket/x", name="x")
    producer.log_artifact(art, aliases=["prod"])
    v1 = Artifact("srv-data", "dataset")
    v1.add_file(src / "a.txt", name="odd name+1.txt")  # stored by the syncer as odd name_1.txt
    producer.log_artifact(v1)
    producer.finish()  # online: the syncer has uploaded everything

    consumer = _init(tmp_path / "b", project="arts", **online)  # another runs directory
    used = consumer.use_artifact("srv-data:prod")
    assert (used.version, used.source_run, used.digest) == ("v0", producer.id, art.digest)
    assert (used.type, used.description, used.metadata) == ("dataset", "d", {"k": 1})
    assert _tree(Path(used.download(tmp_path / "dl"))) == _tree(src)
    assert used.get_entry("x").ref == "s3://bucket/x"
    latest = consumer.use_artifact("srv-data")
    assert latest.version == "v1" and latest.aliases == ["latest"]
    assert Path(latest.file(tmp_path / "one")).read_text() == "alpha"
    assert consumer.use_artifact("srv-data:v0").digest == art.digest
    with pytest.raises(ArtifactNotFound, match="nor on the tracking server"):
        consumer.use_artifact("srv-data:nope")
    consumer.finish()
    uses = of_kind(read_clean(consumer.run_dir), "artifact_use")
    assert [(u["asked"], u["version"], u["source_run"]) for u in uses] == [
        ("srv-data:prod", 0, producer.id), ("srv-data", 1, producer.id),
        ("srv-data:v0", 0, producer.id)]


HTTP_CLIENTS = {"httpx", "httpcore", "requests", "urllib3", "aiohttp", "http.client",
                "urllib.request"}


def test_the_sdk_makes_no_http_request_and_knows_no_mlflow_layout() -> None:
    """use_artifact() from the server runs `runwal artifact get` as a child process: no
    module of the SDK imports an HTTP client, and the MLflow layout (REST paths, tag names,
    the manifest's file) has one home, the syncer's sinks/mlflow/."""
    root = Path(logwriter.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [f"{path.relative_to(root)}:{node.lineno}: {name}" for name in names
                      if name in HTTP_CLIENTS or name.split(".")[0] in HTTP_CLIENTS]
        for fact in ("/api/2.0/", "mlflow-artifacts", "runwal.artifacts.", "runwal.run_id",
                     "MANIFEST.json"):
            if fact in text:
                found.append(f"{path.relative_to(root)}: names {fact!r}")
    assert found == []


def test_add_dir_follows_symlinks_into_real_copies(tmp_path: Path, src: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside bytes")
    (src / "link.txt").symlink_to(outside / "secret.txt")
    (src / "linkdir").symlink_to(outside, target_is_directory=True)
    (src / "loop").symlink_to(src, target_is_directory=True)  # a cycle: walked once
    run = _init(tmp_path / "runs")
    art = Artifact("linked", "dataset")
    art.add_dir(src)
    run.log_artifact(art)
    (src / "dangling").symlink_to(tmp_path / "nothing")
    with pytest.raises(ArtifactError, match="dangling"):
        Artifact("x", "dataset").add_dir(src)
    run.finish()
    (body,) = of_kind(read_clean(run.run_dir), "artifact")
    paths = [e["path"] for e in body["entries"]]
    assert paths == ["a.txt", "link.txt", "linkdir/secret.txt", "sub/b.bin",
                     "sub/deeper/c.json"]
    store = Path(run.run_dir) / "files" / "artifacts"
    assert not any(p.is_symlink() for p in store.iterdir())
    copy = store / _sha(b"outside bytes")
    assert copy.read_text() == "outside bytes"
    os.remove(outside / "secret.txt")  # the run keeps its own copy
    assert copy.read_text() == "outside bytes"


def test_mutable_files_are_copied_immutable_ones_may_be_linked(tmp_path: Path) -> None:
    f = tmp_path / "ckpt.bin"
    f.write_bytes(b"epoch 1")
    run = _init(tmp_path / "runs")
    mutable = Artifact("m", "model")
    mutable.add_file(f)
    run.log_artifact(mutable)
    frozen = Artifact("i", "model")
    frozen.add_file(f, policy="immutable")
    run.log_artifact(frozen)
    stored = Path(run.run_dir) / "files" / "artifacts" / _sha(b"epoch 1")
    with open(f, "wb") as fh:  # torch.save rewrites the same inode like this
        fh.write(b"epoch 2")
    run.finish()
    # Same content, stored once: the copy made for the mutable add_file keeps its bytes.
    assert stored.read_bytes() == b"epoch 1" and stored.stat().st_ino != f.stat().st_ino


def test_a_policy_that_is_none_names_the_call(tmp_path: Path, src: Path) -> None:
    art = Artifact("p", "model")
    with pytest.raises(ArtifactError, match=r"add_file\(policy='frozen'\): expected one of"):
        art.add_file(src / "a.txt", policy="frozen")
    with pytest.raises(ArtifactError, match=r"add_dir\(policy='link'\): expected one of"):
        art.add_dir(src, policy="link")
    assert art.add_dir(src, policy="immutable")  # the two policies pass
    assert art.add_file(src / "a.txt", name="x.txt", policy="mutable")


def test_disabled_mode_writes_nothing(tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("x")
    run = _init(tmp_path / "runs", mode="disabled")
    art = Artifact("x", "dataset")
    art.add_file(f)
    assert run.log_artifact(art).version is None
    run.finish()
    assert not (tmp_path / "runs").exists()


def _shim() -> Any:
    """The wandb shim, loaded under another name (a real wandb may be installed)."""
    import importlib.util

    path = Path(logwriter.__file__).parent / "wandb_compat" / "wandb" / "__init__.py"
    # a package (its relative imports: wandb.plot, wandb.api, ...), under its own name
    spec = importlib.util.spec_from_file_location("runwal_wandb_shim", path,
                                                  submodule_search_locations=[str(path.parent)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_wandb_shim_artifacts(tmp_path: Path) -> None:
    wandb = _shim()
    f = tmp_path / "w.bin"
    f.write_bytes(b"w")
    wandb.init(project="p", dir=str(tmp_path / "runs"), mode="offline")
    art = wandb.Artifact("weights", type="model", incremental=False, use_as=None)
    art.add_file(str(f))
    assert wandb.log_artifact(art, aliases=["best"], tags=["t"]).version == "v0"
    assert wandb.use_artifact("weights:best", type="model").digest == art.digest
    assert wandb.log_model(str(f), name="weights").version == "v0"
    wandb.finish()


def test_resolution_reads_appended_frames_and_survives_a_damaged_sibling(
        tmp_path: Path, src: Path) -> None:
    runs = tmp_path / "runs"
    junk = runs / "junk" / "log"
    junk.mkdir(parents=True)
    (junk / f"{0:020d}.seg").write_bytes(b"not a segment" * 10)
    a = _init(runs)
    first = Artifact("x", "dataset")
    first.add_file(src / "a.txt")
    a.log_artifact(first)
    a.log({"loss": 1.0})
    assert a.use_artifact("x:latest").version == "v0"  # reads a's live segment so far
    second = Artifact("x", "dataset")
    second.add_file(src / "sub" / "b.bin")
    assert a.log_artifact(second, aliases=["big"]).version == "v1"
    a.finish()
    b = _init(runs)  # the same process: a's segment is read on from where it stopped
    assert b.use_artifact("x:latest").version == "v1"
    assert b.use_artifact("x:big").digest == second.digest
    assert b.use_artifact("x:v0").digest == first.digest
    b.finish()


def test_use_artifact_reads_only_the_runs_that_logged_one(
        tmp_path: Path, src: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It read every run's log on its first call: minutes in a training process on a login
    node's runs directory. A run that logged an artifact has files/artifacts/; only those
    are read (bench/artifact_scan.py measures 10,000 runs)."""
    from logwriter.artifacts import resolve
    from syncutil import training_records, write_run

    runs = tmp_path / "runs"
    for i in range(30):  # runs of other work, never an artifact
        write_run(runs, f"plain{i:03d}", training_records(20))
    with _init(runs, id="producer") as run:
        art = Artifact("data", type="dataset")
        art.add_reference("s3://bucket/data.csv")  # no file: still marks the run
        run.log_artifact(art)
    read: list[Path] = []
    real = resolve.SegmentReader

    def counting(path: Path, **kw: Any) -> Any:
        read.append(Path(path))
        return real(path, **kw)

    monkeypatch.setattr(resolve, "SegmentReader", counting)
    resolve._seen.clear()
    with _init(runs, id="consumer") as run:
        got = run.use_artifact("data:latest")
    assert got.version == "v0" and got.source_run == "producer"
    assert {p.parent.parent.name for p in read} == {"producer"}, sorted(set(read))[:3]


def test_an_artifact_logged_by_a_shared_runs_stream_is_found_and_downloaded(
        tmp_path: Path, src: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "runs"
    monkeypatch.setenv("RANK", "1")
    with logwriter.init(dir=str(runs), id="shared1", shared=True, **QUIET) as run:
        art = Artifact("ranked", type="dataset")
        art.add_file(str(src / "a.txt"))
        run.log_artifact(art)
    monkeypatch.delenv("RANK")
    with _init(runs, id="reader") as run:
        got = run.use_artifact("ranked:v0")
        out = Path(got.download(str(tmp_path / "out")))
    assert got.source_run == "shared1"
    assert (out / "a.txt").read_bytes() == (src / "a.txt").read_bytes()
