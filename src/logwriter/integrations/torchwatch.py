"""``watch(model)``: histograms and norms of a torch module's gradients and parameters.

What is recorded, every ``log_freq`` training-mode forward calls of a watched
module (wandb counts the same way: calls log_freq, 2*log_freq, ...; in a loop
with one forward and one backward per step, every log_freq steps):

* ``log="parameters"`` or ``"all"``: in the forward hook, per parameter, a
  ``media`` record ``{"key": "parameters/<name>", "step", "kind":
  "histogram", "items": [{"bins": [65 floats], "counts": [64 ints]}]}`` and
  the scalar ``parameters/<name>.norm`` (its L2 norm) in history;
* ``log="gradients"`` (the default) or ``"all"``: the same for the gradient
  of that call's backward, as ``gradients/<name>`` and ``gradients/<name>.norm``.

Names are wandb's: ``<name>`` is the ``named_parameters()`` name, prefixed
with ``graph_<idx>`` (no separator, as wandb) for the second and later
watched model. ``step`` is the run's current step, the row that the next
``log()`` commits; the norms are added to that row (``commit=False``), so
they and the histograms land at the step of the next log(), as in wandb.

Cost: the hooks count calls; only the logged calls do work. Gradient
hooks exist only from a logged forward to the next forward (tensor hooks
armed for that one backward), so the other steps pay one forward hook call
per watched module.
A logged tensor costs ``torch.histc`` with 64 bins and a norm on the
tensor's own device and two small device-to-host copies (its min/max/norm,
then 64 counts); a non-float tensor is converted to float32 first, and
non-finite values (NaN/inf) are left out of the histogram and counted in
the item's ``nonfinite`` (docs/FORMAT.md; the norm keeps them: a NaN norm is
worth seeing). Measured by bench/watch_bench.py.

``unwatch(model)`` removes the hooks of that model (of every watched model
without one); finish() unwatches the run's models, so no hook outlives it.
A hook never raises into training: a failure unwatches that model with one
RunwalWarning. ``criterion`` is accepted and unused (as in recent wandb);
``log_graph=True`` warns once: the graph is not recorded.

This module never imports torch at import time (finish() imports it to
unwatch); torch is imported when a model is watched. It is not called
``watch.py``: ``logwriter.watch`` is the facade's function, and a submodule
of that name would replace it once imported.
"""

from __future__ import annotations

import math
import threading
import warnings
import weakref
from typing import TYPE_CHECKING, Any

from logwriter.errors import RunwalWarning
from schema.records import RecordType

if TYPE_CHECKING:
    from logwriter.session.run import Run

LOG_MODES = ("gradients", "parameters", "all")
BINS = 64
_MEDIA = int(RecordType.MEDIA)

_lock = threading.Lock()
_watched: weakref.WeakKeyDictionary[Run, list[_Watcher]] = weakref.WeakKeyDictionary()
_count: weakref.WeakKeyDictionary[Run, int] = weakref.WeakKeyDictionary()


def watch(run: Run, models: Any, criterion: Any = None, log: str | None = "gradients",
          log_freq: int = 1000, idx: int | None = None, log_graph: bool = False) -> None:
    """Hook ``models`` (a torch Module, or a list/tuple of them) into ``run``; see the
    module docstring. Watching a model again replaces its hooks."""
    del criterion  # accepted for wandb's signature
    if log is not None and log not in LOG_MODES:
        raise ValueError(f"runwal: watch(log={log!r}): expected one of {LOG_MODES} or None")
    if type(log_freq) is not int or log_freq < 1:
        raise ValueError(f"runwal: watch(log_freq={log_freq!r}): expected an int >= 1")
    items = list(models) if isinstance(models, (list, tuple)) else [models]
    import torch

    for model in items:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"runwal: watch() takes torch.nn.Module objects, got "
                            f"{type(model).__name__}")
    if log_graph:
        warnings.warn("runwal: watch(log_graph=True): the model graph is not recorded",
                      RunwalWarning, stacklevel=3)
    if run.ignores_calls() or log is None:
        return
    for local, model in enumerate(items):
        with _lock:
            n = _count.get(run, 0)
            _count[run] = n + 1
        number = (idx + local) if idx is not None else n
        unwatch(run, model)
        watcher = _Watcher(run, model, log, log_freq, f"graph_{number}" if number else "")
        with _lock:
            _watched.setdefault(run, []).append(watcher)


def unwatch(run: Run | None, model: Any = None) -> None:
    """Remove the hooks of ``model`` (every model without one) from ``run`` (from every
    run without one). Never raises."""
    with _lock:
        runs = [run] if run is not None else list(_watched)
        gone: list[_Watcher] = []
        for r in runs:
            kept: list[_Watcher] = []
            for w in _watched.get(r, []):
                (gone if model is None or w.model is model else kept).append(w)
            if r in _watched:
                _watched[r] = kept
    for w in gone:
        w.remove()


def release(run: Run) -> None:
    """finish(): remove every hook of this run's watched models."""
    unwatch(run)
    with _lock:
        _watched.pop(run, None)


class _Watcher:
    """The hooks on one module for one run."""

    def __init__(self, run: Run, model: Any, log: str, log_freq: int, prefix: str) -> None:
        self.run = run
        self.model = model
        self.log_freq = log_freq
        self.params = log in ("parameters", "all")
        self.grads = log in ("gradients", "all")
        self.named = [(prefix + name, p) for name, p in model.named_parameters()]
        self.calls = 0
        self.armed: list[Any] = []  # one-shot gradient hook handles
        self.dead = False
        self.handle = model.register_forward_hook(self._on_forward)

    def remove(self) -> None:
        self.dead = True
        self.handle.remove()
        self._disarm()

    def _disarm(self) -> None:
        armed, self.armed = self.armed, []
        for h in armed:
            h.remove()

    def _on_forward(self, module: Any, inputs: Any, output: Any) -> None:
        if self.dead or not module.training:
            return
        if self.armed:  # the logged backward is over (hooks of unused parameters remain)
            self._disarm()
        self.calls += 1
        if self.calls < self.log_freq:
            return
        self.calls = 0
        try:
            if self.params:
                self._log({f"parameters/{name}": p.detach() for name, p in self.named})
            if self.grads:
                self.armed = [p.register_hook(self._grad_hook(name))
                              for name, p in self.named if p.requires_grad]
        except Exception as exc:  # logging must not break training
            self._fail(exc)

    def _grad_hook(self, name: str) -> Any:
        key = f"gradients/{name}"

        def hook(grad: Any) -> None:
            if self.dead:
                return
            try:
                self._log({key: grad})
            except Exception as exc:
                self._fail(exc)

        return hook

    def _log(self, tensors: dict[str, Any]) -> None:
        run = self.run
        if not run.live:
            return
        step = run.step
        norms: dict[str, float] = {}
        for key, tensor in tensors.items():
            stats = tensor_stats(tensor)
            if stats is None:
                continue
            item, norm = stats
            if item is not None:
                run.record(_MEDIA, {"key": key, "step": step, "kind": "histogram",
                                  "items": [item]})
            norms[f"{key}.norm"] = norm
        if norms:
            run.log(norms, commit=False)

    def _fail(self, exc: Exception) -> None:
        self.remove()
        if self.run.finished:
            return
        warnings.warn(f"runwal: watch() stopped for {type(self.model).__name__} after an "
                      f"error in its hook ({type(exc).__name__}: {exc})", RunwalWarning,
                      stacklevel=2)


def tensor_stats(tensor: Any) -> tuple[dict[str, Any] | None, float] | None:
    """(histogram item, L2 norm) of a dense tensor, computed on its device; None for an
    empty or sparse one; the item is None when no value is finite."""
    import torch

    if tensor.is_sparse or tensor.numel() == 0:
        return None
    flat = tensor.detach().reshape(-1)
    if flat.dtype != torch.float32:
        flat = flat.float()
    lo_t, hi_t = torch.aminmax(flat)
    lo, hi, norm = torch.stack([lo_t, hi_t, torch.linalg.vector_norm(flat)]).tolist()
    nonfinite = 0
    if not (math.isfinite(lo) and math.isfinite(hi)):
        total = flat.numel()
        flat = flat[torch.isfinite(flat)]
        nonfinite = total - flat.numel()
        if flat.numel() == 0:  # nothing to bin: the (NaN) norm alone
            return None, norm
        lo, hi = (float(v) for v in torch.stack(list(torch.aminmax(flat))).tolist())
    if lo == hi:  # what histc itself does with an empty range
        lo, hi = lo - 1.0, hi + 1.0
    counts = torch.histc(flat, bins=BINS, min=lo, max=hi).long().tolist()
    width = (hi - lo) / BINS
    bins = [lo + i * width for i in range(BINS)] + [hi]
    item: dict[str, Any] = {"bins": bins, "counts": counts}
    if nonfinite:  # docs/FORMAT.md's key for the values left out
        item["nonfinite"] = nonfinite
    return item, norm
