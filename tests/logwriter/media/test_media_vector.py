"""The SDK writes media records in the shapes the media_records vector pins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from logwriter.media import Audio, Histogram, Html, Image, Table, Video, plot

VECTOR = Path(__file__).resolve().parents[2] / "vectors" / "media_records.json"


def test_record_and_item_keys_match_the_vector(log_run: Any) -> None:
    (frame,) = json.loads(VECTOR.read_text())["events"]
    pinned = {body["key"]: body for _, rtype, _, body in frame["records"] if rtype == 12}
    table = Table(columns=["x", "y"], data=[[0, 0.0], [1, 1.0]])
    logged = log_run({
        "samples": [Image(np.zeros((2, 2, 3), np.uint8), caption="a"),
                    Image(np.zeros((2, 2), np.uint8))],
        "weights": Histogram([1.0, 2.0]),
        "speech": Audio(np.zeros(10), sample_rate=8000),
        "rollout": Video(np.zeros((2, 3, 4, 4), np.uint8)),
        "report": Html("<p>x</p>"),
        "roc": plot.line(table, "x", "y", title="ROC"),
    })
    for body in logged.media:
        want = pinned[body["key"]]
        assert list(body) == [k for k in want if k != "error"]
        assert body["kind"] == want["kind"]
        for item, want_item in zip(body["items"], want["items"], strict=True):
            assert list(item) == list(want_item), body["key"]
