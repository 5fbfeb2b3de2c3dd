"""What ``log()`` does with rich values: split them from the row, queue one
``media`` record per key, built by the media worker (worker.py).

``Run.log`` calls `split_media` only when `values.flatten` refused the data
(the common row of floats never comes here). It walks the dict as flatten
does (nested dicts joined with "/"), takes out

* a `Media` value: one record of one item;
* a non-empty list or tuple of Media of one kind: a gallery, one record of
  several items (a list mixing kinds, or Media with other values, is a
  TypeError naming the key);
* a matplotlib figure (or the pyplot module): a PNG image rendered now, in
  the caller's thread (a figure changes after the call); a plotly figure:
  Html (figures.py);
* a numpy array or tensor of more than one element: more than 32 elements
  become a ``Histogram(value, num_bins=32)``, fewer a list in the row
  (wandb's rule; one element stays a scalar, as before);

and flattens the rest as usual. Every check runs before anything of the call
is queued, so a bad value raises in the caller's thread (naming the key) and
costs nothing else of the call.

Each record is a `MediaJob`, queued on the media worker (worker.py), which
calls it to store the files and build the body, then hands the record to
the writer: the files are complete on disk before the record that names
them is written. The job's ``nbytes`` (what its snapshots hold) counts
against the writer queue's memory bound. A failure there (disk full, the
run directory gone) writes the record with an ``error`` and the items that
were stored, and never stops the writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from logwriter.media.base import Media, module_of
from logwriter.media.figures import as_media, is_figure
from logwriter.media.histogram import Histogram
from logwriter.media.store import MediaStore
from logwriter.values.convert import _ARRAY_MODULES, check_key, flatten

AUTO_HISTOGRAM_AFTER = 32  # elements; wandb's rule for arrays logged directly
AUTO_HISTOGRAM_BINS = 32
MAX_ITEMS = 10_000  # per record: keeps a gallery's record far below a frame
JOB_OVERHEAD = 256  # bytes the writer queue counts per media record on top of the data

Split = tuple[str, str, list[Media]]  # (key, kind, frozen values)


def split_media(data: Any, where: str = "log()") -> tuple[dict[str, Any], int, list[Split]]:
    """(flat row, its size estimate, media) of one log() call; raises naming the key."""
    if not isinstance(data, Mapping):
        return (*flatten(data, where), [])
    rest: dict[str, Any] = {}
    media: list[Split] = []
    _walk(data, "", rest, media, where, 0)
    flat, size = flatten(rest, where)
    for key, _, _ in media:
        if key in flat:
            raise ValueError(f"runwal: {where}: key {key!r} is given twice (once with '/' "
                             "in its name, once as a nested dict); use one spelling")
    return flat, size, media


def _walk(data: Mapping[Any, Any], prefix: str, rest: dict[str, Any], media: list[Split],
          where: str, depth: int) -> None:
    for k, v in data.items():
        if not isinstance(k, str):
            rest[k] = v  # flatten names the bad key
            continue
        key = prefix + k
        if key in rest or any(key == m[0] for m in media):
            raise ValueError(f"runwal: {where}: key {key!r} is given twice (once with '/' "
                             "in its name, once as a nested dict); use one spelling")
        if isinstance(v, Media):
            media.append((check_key(key, where), v.kind, [_freeze(v, key, where)]))
        elif is_figure(v):
            fig = as_media(v, key, where)
            media.append((check_key(key, where), fig.kind, [fig]))
        elif isinstance(v, (list, tuple)) and v and any(isinstance(x, Media) for x in v):
            media.append(_gallery(key, v, where))
        elif isinstance(v, Mapping) and depth < 32:
            _walk(v, key + "/", rest, media, where, depth + 1)
        elif module_of(v) in _ARRAY_MODULES and _numel(v) != 1:
            if _numel(v) > AUTO_HISTOGRAM_AFTER:
                try:
                    hist = Histogram(v, num_bins=AUTO_HISTOGRAM_BINS)
                except (TypeError, ValueError) as exc:
                    raise TypeError(f"runwal: {where}: value for key {key!r}: {exc}") from None
                media.append((check_key(key, where), "histogram", [hist]))
            else:
                rest[key] = _tolist(v)
        else:
            rest[key] = v


def _gallery(key: str, values: Any, where: str) -> Split:
    kinds = {x.kind if isinstance(x, Media) else None for x in values}
    if len(kinds) != 1 or None in kinds:
        names = sorted(str(k) for k in kinds if k)
        raise TypeError(f"runwal: {where}: the list for key {key!r} mixes "
                        f"{' and '.join(names)} values with others; log one kind per key")
    kind = kinds.pop()
    if kind in ("table", "histogram") and len(values) > 1:
        raise TypeError(f"runwal: {where}: key {key!r} holds a list of {len(values)} "
                        f"{kind}s; log each under its own key")
    if len(values) > MAX_ITEMS:
        raise ValueError(f"runwal: {where}: the gallery for key {key!r} has {len(values)} "
                         f"items, over {MAX_ITEMS}; split it over several keys")
    return check_key(key, where), str(kind), [_freeze(x, key, where) for x in values]


def _freeze(value: Media, key: str, where: str) -> Media:
    try:
        return value.freeze(key)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"runwal: {where}: value for key {key!r}: {exc}") from None


def _numel(value: Any) -> int:
    numel = getattr(value, "numel", None)
    if callable(numel):  # torch: size() is the shape
        return int(numel())
    size: Any = getattr(value, "size", None)
    return int(size.__index__()) if hasattr(size, "__index__") else 0


def _tolist(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)
    if module_of(value) == "torch":
        return value.detach().cpu().tolist()
    return tolist() if callable(tolist) else value


class MediaJob:
    """The body of one ``media`` record, built on the media worker's thread."""

    __slots__ = ("key", "kind", "nbytes", "step", "store", "values")

    def __init__(self, key: str, step: int, kind: str, values: list[Media],
                 store: MediaStore) -> None:
        self.key = key
        self.step = step
        self.kind = kind
        self.values = values
        self.store = store
        self.nbytes = JOB_OVERHEAD + sum(v.nbytes for v in values)

    def __call__(self) -> dict[str, Any]:
        body: dict[str, Any] = {"key": self.key, "step": self.step, "kind": self.kind}
        items: list[dict[str, Any]] = []
        try:
            for value in self.values:
                items.extend(value.items(self.store))
        except Exception as exc:  # disk full, run dir gone, an encoder bug: keep the run
            body["items"] = items
            body["error"] = f"{type(exc).__name__}: {exc}"
            return body
        finally:
            self.values = []  # the copies are not needed any more
        body["items"] = items
        return body


def summary_media(values: Mapping[str, Any], step: int, store: MediaStore
                  ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``summary[key] = <rich value>``: (the ``media`` record bodies, the references
    the summary keeps), built now, on the caller's thread.

    Unlike log(), the files are stored before this returns: the summary keeps
    each file's name and sha256, and a summary is set a few times a run, not
    every step. The record is at ``step`` (the run's current one) under the
    summary's key, as if logged there; the reference is small, ``{"_type":
    "<kind>-file", "path", "sha256", "size", "step"}`` (images and videos
    with ``width``/``height``, tables with ``rows``; a histogram,
    which has no file, ``{"_type": "histogram", "step"}``), so the summary and
    MLflow's ``summary.*`` tags stay small; docs/FORMAT.md, "Media and
    artifacts".
    """
    where = "summary"
    _, _, media = split_media(values, where)
    bodies: list[dict[str, Any]] = []
    refs: dict[str, Any] = {}
    for key, kind, frozen in media:
        if len(frozen) != 1:
            raise TypeError(f"runwal: {where}: key {key!r} holds a list of {len(frozen)} "
                            f"{kind} values; the summary keeps one rich value per key (log "
                            "galleries with run.log())")
    for key, kind, frozen in media:
        body = MediaJob(key, step, kind, frozen, store)()
        bodies.append(body)
        refs[key] = reference(kind, step, body)
    return bodies, refs


_REFERENCE_META = ("width", "height", "format", "rows", "sample_rate", "duration", "caption")


def reference(kind: str, step: int, body: dict[str, Any]) -> dict[str, Any]:
    """What a summary keeps of the media record ``body`` (its first item), at ``step``."""
    if kind == "histogram" or not body.get("items"):
        ref: dict[str, Any] = {"_type": kind if kind == "histogram" else f"{kind}-file",
                               "step": step}
        if "error" in body:
            ref["error"] = body["error"]
        return ref
    item = body["items"][0]
    ref = {"_type": f"{kind}-file", "path": item["file"], "sha256": item["sha256"],
           "size": item["size"], "step": step}
    ref.update((k, item[k]) for k in _REFERENCE_META if item.get(k) is not None)
    return ref
