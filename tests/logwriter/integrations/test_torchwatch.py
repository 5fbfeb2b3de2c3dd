"""watch(model): gradient/parameter histograms as media records, norms in history,
every log_freq calls, unwatch, hooks gone at finish."""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import logwriter  # noqa: E402
from logwriter.integrations.torchwatch import BINS, tensor_stats  # noqa: E402
from logwriter_util import QUIET, history, of_kind, read_clean  # noqa: E402


def _model() -> Any:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def _train(run: logwriter.Run, model: Any, steps: int) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 4), torch.randn(16, 2)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        run.log({"loss": loss.item()})


PARAMS = ["0.weight", "0.bias", "2.weight", "2.bias"]
NUMEL = {"0.weight": 32, "0.bias": 8, "2.weight": 16, "2.bias": 2}


def test_histograms_every_log_freq_steps_with_norms(tmp_path: Path) -> None:
    run = logwriter.init(project="p", dir=tmp_path, **QUIET)
    model = _model()
    run.watch(model, log="all", log_freq=2)
    _train(run, model, 5)  # forward calls 1..5: logged at calls 2 and 4 (steps 1 and 3)
    run.finish()
    records = read_clean(run.run_dir)
    media = of_kind(records, "media")
    keys = {(m["key"], m["step"]) for m in media}
    assert keys == {(f"{kind}/{p}", step) for kind in ("gradients", "parameters")
                    for p in PARAMS for step in (1, 3)}
    assert len(media) == len(keys)
    for m in media:
        assert m["kind"] == "histogram" and len(m["items"]) == 1
        item = m["items"][0]
        assert list(item) == ["bins", "counts"]
        assert len(item["bins"]) == BINS + 1 and len(item["counts"]) == BINS
        assert all(type(c) is int for c in item["counts"])
        assert sum(item["counts"]) == NUMEL[m["key"].split("/", 1)[1]]
        assert item["bins"] == sorted(item["bins"])
    rows = history(records)
    assert sorted(rows) == [0, 1, 2, 3, 4]
    for step in (1, 3):
        for p in PARAMS:
            assert rows[step][f"gradients/{p}.norm"] > 0
            assert rows[step][f"parameters/{p}.norm"] > 0
    assert not any(k.endswith(".norm") for step in (0, 2, 4) for k in rows[step])


def test_norm_and_histogram_match_the_tensor(tmp_path: Path) -> None:
    run = logwriter.init(project="p", dir=tmp_path, **QUIET)
    model = _model()
    run.watch(model, log="parameters", log_freq=1)
    with torch.no_grad():
        model(torch.randn(1, 4))
    weight = model[0].weight.detach().clone()
    run.finish()
    records = read_clean(run.run_dir)
    (m,) = [b for b in of_kind(records, "media") if b["key"] == "parameters/0.weight"]
    item = m["items"][0]
    assert item["bins"][0] == pytest.approx(weight.min().item())
    assert item["bins"][-1] == pytest.approx(weight.max().item())
    expected = torch.histc(weight, bins=BINS, min=weight.min().item(),
                           max=weight.max().item())
    assert item["counts"] == expected.long().tolist()
    norm = history(records)[0]["parameters/0.weight.norm"]
    assert norm == pytest.approx(weight.norm().item())
    # log="parameters": no gradient hooks
    assert not any(b["key"].startswith("gradients/") for b in of_kind(records, "media"))


def _stats(tensor: Any) -> tuple[dict[str, Any], float]:
    out = tensor_stats(tensor)
    assert out is not None and out[0] is not None
    return out[0], out[1]


def test_tensor_stats_edge_cases() -> None:
    item, norm = _stats(torch.zeros(5))
    assert item["bins"][0] == -1.0 and item["bins"][-1] == 1.0 and sum(item["counts"]) == 5
    assert norm == 0.0
    item, norm = _stats(torch.tensor([1.0, float("nan"), float("inf"), 3.0]))
    assert sum(item["counts"]) == 2 and item["bins"][0] == 1.0 and item["bins"][-1] == 3.0
    assert item["nonfinite"] == 2 and math.isnan(norm)
    assert _stats(torch.arange(10, dtype=torch.int64))[0]["counts"][-1] == 1
    assert sum(_stats(torch.arange(10, dtype=torch.int64))[0]["counts"]) == 10
    assert sum(_stats(torch.ones(3, dtype=torch.bfloat16))[0]["counts"]) == 3
    only_nan = tensor_stats(torch.tensor([float("nan")]))
    assert only_nan is not None and only_nan[0] is None  # no histogram record, the norm only
    assert math.isnan(only_nan[1])
    assert tensor_stats(torch.zeros(0)) is None


def test_unwatch_stops_records_and_finish_removes_hooks(tmp_path: Path) -> None:
    logwriter.init(project="p", dir=tmp_path, **QUIET)
    run = logwriter.run
    assert run is not None
    model = _model()
    logwriter.watch(model, log_freq=1)  # gradients only, the default
    _train(run, model, 2)
    logwriter.unwatch(model)
    assert not model._forward_hooks
    _train(run, model, 2)
    logwriter.watch(model, log="gradients", log_freq=1)
    logwriter.finish()
    assert not model._forward_hooks  # finish() unwatched it
    assert all(not p._backward_hooks for p in model.parameters())
    _train_no_run(model)  # hooks gone: training after finish raises nothing
    media = of_kind(read_clean(run.run_dir), "media")
    assert sorted({m["step"] for m in media}) == [0, 1]
    assert {m["key"] for m in media} == {f"gradients/{p}" for p in PARAMS}


def _train_no_run(model: Any) -> None:
    loss = model(torch.randn(2, 4)).sum()
    loss.backward()


def test_second_model_is_prefixed_and_eval_mode_is_not_counted(tmp_path: Path) -> None:
    run = logwriter.init(project="p", dir=tmp_path, **QUIET)
    first, second = _model(), torch.nn.Linear(2, 1)
    run.watch([first, second], log="parameters", log_freq=1)
    first.eval()
    with torch.no_grad():
        second(first(torch.randn(1, 4)))
    run.finish()
    keys = {m["key"] for m in of_kind(read_clean(run.run_dir), "media")}
    assert keys == {"parameters/graph_1weight", "parameters/graph_1bias"}


def test_bad_arguments_and_disabled_mode(tmp_path: Path) -> None:
    run = logwriter.init(project="p", dir=tmp_path, **QUIET)
    with pytest.raises(ValueError, match="log="):
        run.watch(_model(), log="weights")
    with pytest.raises(ValueError, match="log_freq"):
        run.watch(_model(), log_freq=0)
    with pytest.raises(TypeError, match=r"nn\.Module"):
        run.watch(object())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.watch(_model(), log_graph=True)
    assert "log_graph" in str(caught[0].message)
    run.finish()
    off = logwriter.init(project="p", dir=tmp_path, mode="disabled", **QUIET)
    model = _model()
    off.watch(model, log_freq=1)
    assert not model._forward_hooks
    off.finish()


def test_cost_is_bounded_to_logged_steps(tmp_path: Path) -> None:
    """Between logged calls no gradient hook is registered: only the forward hook."""
    run = logwriter.init(project="p", dir=tmp_path, **QUIET)
    model = _model()
    run.watch(model, log="gradients", log_freq=3)
    seen = []
    for _ in range(6):
        out = model(torch.randn(2, 4)).sum()
        seen.append(sum(len(p._backward_hooks or {}) for p in model.parameters()))
        out.backward()
    run.finish()
    assert seen == [0, 0, 4, 0, 0, 4]
    assert len(of_kind(read_clean(run.run_dir), "media")) == 8


def test_wandb_shim_watch(tmp_path: Path) -> None:
    import importlib.util

    path = Path(logwriter.__file__).parent / "wandb_compat" / "wandb" / "__init__.py"
    # a package (its relative imports: wandb.plot, wandb.api, ...), under its own name
    spec = importlib.util.spec_from_file_location("runwal_wandb_shim_w", path,
                                                  submodule_search_locations=[str(path.parent)])
    assert spec is not None and spec.loader is not None
    wandb = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = wandb
    spec.loader.exec_module(wandb)
    run = wandb.init(project="p", dir=str(tmp_path), mode="offline")
    model = _model()
    wandb.watch(model, log="all", log_freq=1)
    _train(run, model, 1)
    wandb.unwatch(model)
    wandb.finish()
    assert len(of_kind(read_clean(run.run_dir), "media")) == 8
