"""Artifact and artifact_use records to the real MLflow server: versioned directories
with a manifest, tags naming what the run logged and used, each file sent once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mediautil import counting_rest, download, tags, tree
from runbuilder import T0, artifact_entry, artifact_record, build_run
from schema.records import RecordType as R

EXIT = (R.EXIT, T0 + 99, {"code": 0, "status": "finished", "runtime": 99.0})


def test_artifact_versions_manifest_tags_and_one_upload_per_file(
        tmp_path: Path, mlflow_uri: str) -> None:
    root = tmp_path / "art00001"
    a = artifact_entry(root, "train.csv", b"x,y\n1,2\n")
    b = artifact_entry(root, "sub/labels.txt", b"cat\ndog\n")
    ref = {"path": "raw", "ref": "s3://bucket/raw/"}
    b2 = artifact_entry(root, "sub/labels.txt", b"cat\ndog\nbird\n")
    v0 = artifact_record(T0 + 1, "data", 0, [a, b, ref], aliases=["latest"],
                         description="the set", metadata={"rows": 1})
    again = artifact_record(T0 + 2, "data", 0, [a, b, ref], aliases=["latest", "best"])
    v1 = artifact_record(T0 + 3, "data", 1, [a, b2, ref], aliases=["latest"])
    use = (R.ARTIFACT_USE, T0 + 4, {"name": "weights", "type": "model", "version": 2,
                                   "digest": "ab" * 32, "source_run": "xyz98765",
                                   "asked": "weights:latest"})
    rd = build_run(tmp_path, [(R.RUN, T0, {"host": "h"}), v0, again, v1, use, EXIT],
                   run_id="art00001", project="p-art")
    with counting_rest(mlflow_uri) as cr:
        run_id = cr.synced(rd).server_run_id
        assert tree(mlflow_uri, run_id, "artifacts") == {
            "artifacts/data/v0/train.csv": 8,
            "artifacts/data/v0/sub/labels.txt": 8,
            "artifacts/data/v0/MANIFEST.json": tree(mlflow_uri, run_id, "artifacts/data/v0")[
                "artifacts/data/v0/MANIFEST.json"],
            "artifacts/data/v1/train.csv": 8,
            "artifacts/data/v1/sub/labels.txt": 13,
            "artifacts/data/v1/MANIFEST.json": tree(mlflow_uri, run_id, "artifacts/data/v1")[
                "artifacts/data/v1/MANIFEST.json"],
        }
        assert download(mlflow_uri, run_id, "artifacts/data/v1/sub/labels.txt") == \
            b"cat\ndog\nbird\n"
        # v0 logged twice: its files went up once, its manifest has the later aliases
        assert cr.puts[next(p for p in cr.puts if p.endswith("data/v0/train.csv"))] == 1
        m0 = json.loads(download(mlflow_uri, run_id, "artifacts/data/v0/MANIFEST.json"))
        assert m0["aliases"] == ["latest", "best"] and m0["version"] == 0
        assert m0["digest"] == again[2]["digest"] and m0["type"] == "dataset"
        assert m0["entries"] == [
            {"path": "train.csv", "size": 8, "sha256": a["sha256"]},
            {"path": "sub/labels.txt", "size": 8, "sha256": b["sha256"]},
            {"path": "raw", "ref": "s3://bucket/raw/"},
        ]
        assert "raw" not in {p.rsplit("/", 1)[-1] for p in tree(mlflow_uri, run_id)}
        t = tags(mlflow_uri, run_id)
        assert t["runwal.artifacts.logged"] == "data:v0, data:v1"
        assert t["runwal.artifacts.used"] == "weights:v2 (run xyz98765)"
        sent = dict(cr.puts)

        again_res = cr.sync(rd)
        assert again_res.status == "skipped" and dict(cr.puts) == sent
        shutil.rmtree(rd / "sync")
        cr.sync(rd)  # no checkpoint: files are on the server already, manifests rewritten
        new = {p: n - sent.get(p, 0) for p, n in cr.puts.items() if n != sent.get(p, 0)}
        assert new and all(p.endswith("MANIFEST.json") for p in new), new
        assert tags(mlflow_uri, run_id)["runwal.artifacts.logged"] == "data:v0, data:v1"


def test_a_missing_artifact_file_is_rejected_and_the_manifest_still_lists_it(
        tmp_path: Path, mlflow_uri: str) -> None:
    root = tmp_path / "art00002"
    a = artifact_entry(root, "a.txt", b"aaa")
    b = artifact_entry(root, "b.txt", b"bbb")
    (root / "files" / b["file"]).unlink()
    rd = build_run(tmp_path, [(R.RUN, T0, {"host": "h"}),
                              artifact_record(T0 + 1, "model", 3, [a, b]), EXIT],
                   run_id="art00002", project="p-art")
    with counting_rest(mlflow_uri) as cr:
        res = cr.sync(rd)
    assert res.status == "partial"
    assert [(r.seq, r.key) for r in res.rejected] == [(1, b["file"])]
    files = tree(mlflow_uri, res.server_run_id, "artifacts")
    assert set(files) == {"artifacts/model/v3/a.txt", "artifacts/model/v3/MANIFEST.json"}
    manifest = json.loads(download(mlflow_uri, res.server_run_id,
                                   "artifacts/model/v3/MANIFEST.json"))
    assert [e["path"] for e in manifest["entries"]] == ["a.txt", "b.txt"]
