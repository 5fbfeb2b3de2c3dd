"""The media and artifact mapping on its own (pure: no server, no files)."""

from __future__ import annotations

import json

from schema.records import Record, RecordType
from syncer.histogram import histogram_stats
from syncer.sinks.base import Refused
from syncer.sinks.mlflow.artifacts import ArtifactState, map_artifact
from syncer.sinks.mlflow.mapping import MapState, Plan, count_points, map_record
from syncer.sinks.mlflow.media import MediaState, image_names, map_media, safe_part


def media(seq: int, body: object) -> Record:
    return Record(seq, int(RecordType.MEDIA), 1.5, body)


def test_paths_never_leave_their_directory() -> None:
    assert safe_part("a/b") == "a/b"
    assert safe_part("../../etc/passwd") == "_/_/etc/passwd"
    assert safe_part("/abs//x") == "_/abs/_/x"
    assert safe_part("we:ird*key?") == "we_ird_key_"


def test_image_names_are_mlflow_s_and_the_same_on_every_replay() -> None:
    full, thumb = image_names("a/b c", 3, 1500, 0, "ab" * 32)
    assert full.startswith("images/a~b c+step+3+timestamp+1500+") and full.endswith(".png")
    assert thumb == full[:-4] + "+compressed.webp"
    assert image_names("a/b c", 3, 1500, 0, "ab" * 32) == (full, thumb)
    assert image_names("a/b c", 3, 1500, 1, "ab" * 32) != (full, thumb)  # gallery items
    assert image_names("x+y%z", 0, 0, 0, "")[0].startswith("images/x_y_z+step+0+")


def test_histogram_stats() -> None:
    assert histogram_stats([0.0, 1.0, 2.0, 3.0], [0, 4, 0]) == {
        "min": 1.0, "max": 2.0, "mean": 1.5, "std": 0.0}
    for bins, counts in (([0.0, 1.0], [0, 0]), ([0.0, 1.0], [1, 2]), ([0.0, float("nan")], [1]),
                         ("x", [1]), ([0.0, 1.0], [-1]), ([0.0, 1.0], [])):
        assert histogram_stats(bins, counts) is None


def test_bad_media_bodies_are_rejections_not_failures() -> None:
    state = MediaState()
    assert map_media(media(1, {"key": "k", "step": -1, "kind": "image", "items": []}), state,
                     0).rejected[0].what is Refused.STEP
    assert map_media(media(2, {"key": "k", "step": 0, "kind": "image"}), state,
                     0).rejected[0].what is Refused.FILE
    got = map_media(media(3, {"key": "h", "step": 0, "kind": "histogram",
                              "items": [{"bins": [1.0], "counts": [1]}, 7]}), state, 0)
    assert [r.what for r in got.rejected] == [Refused.METRIC, Refused.FILE]
    assert not got.metrics and not got.uploads
    plan = Plan()
    assert map_record(plan, media(4, ["not", "a", "map"]), MapState(), {})
    assert plan.rejected and not plan.uploads


def test_the_tables_tag_keeps_the_newest_tables_that_fit() -> None:
    state = MapState()
    plan = Plan()
    for step in range(400):
        map_record(plan, media(step, {"key": "preds", "step": step, "kind": "table",
                                      "items": [{"file": "media/table/x.json"}]}), state, {})
    value = plan.tags["mlflow.loggedArtifacts"][1]
    listed = json.loads(value)
    assert len(value) <= 8000 and listed[-1]["path"] == "tables/preds/step_399.json"
    assert listed[0]["path"] != "tables/preds/step_0.json"
    assert MapState.from_json(json.loads(json.dumps(state.to_json()))).media.tables == \
        state.media.tables


def test_dry_run_counts_histogram_rows() -> None:
    rec = media(1, {"key": "h", "step": 2, "kind": "histogram",
                    "items": [{"bins": [0.0, 1.0], "counts": [3]}]})
    assert count_points(rec) == 4


def test_artifact_entries_map_to_versioned_paths_and_refs_to_the_manifest_only() -> None:
    rec = Record(5, int(RecordType.ARTIFACT), 1.0, {
        "name": "ds", "type": "dataset", "version": 2, "digest": "d", "aliases": ["x"],
        "entries": [{"path": "../a.txt", "size": 1, "sha256": "s", "file": "artifacts/s"},
                    {"path": "r", "ref": "s3://b/r"}]})
    got = map_artifact(rec, ArtifactState())
    assert [u.dest for u in got.uploads] == ["artifacts/ds/v2/_/a.txt",
                                             "artifacts/ds/v2/MANIFEST.json"]
    assert got.uploads[0].dedupe and got.uploads[0].size == 1
    manifest = json.loads(got.uploads[1].data or b"")
    assert manifest["entries"][1] == {"path": "r", "ref": "s3://b/r"}
    assert got.tags == {"runwal.artifacts.logged": "ds:v2"}
    bad = map_artifact(Record(6, int(RecordType.ARTIFACT), 1.0, {"name": "ds"}), ArtifactState())
    assert bad.rejected and not bad.uploads


def test_a_record_the_sdk_wrote_with_an_error_delivers_what_it_lists() -> None:
    rec = media(7, {"key": "k", "step": 1, "kind": "audio", "error": "disk full",
                    "items": [{"file": "media/audio/a.wav", "size": 3, "sha256": "a",
                               "format": "wav"}]})
    got = map_media(rec, MediaState(), 0)
    assert [(r.seq, r.key) for r in got.rejected] == [(7, "k")]
    assert "disk full" in got.rejected[0].reason
    assert [u.dest for u in got.uploads] == ["media/k/a.wav", "media/k/step_1.json"]
