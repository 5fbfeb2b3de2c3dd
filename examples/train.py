"""A small training loop logged with runwal (offline: no server needed).

Fits a logistic-regression model on synthetic data with plain Python, logging
loss and accuracy every step, validation metrics every epoch, the config, a
best-so-far summary and a checkpoint file. Copy this to start your own.

    python examples/train.py --steps 300 --dir ./runs
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
from pathlib import Path

import logwriter


def make_data(n: int, rng: random.Random) -> list[tuple[list[float], int]]:
    true_w = [1.5, -2.0, 0.7]
    rows = []
    for _ in range(n):
        x = [rng.gauss(0, 1) for _ in true_w]
        p = 1 / (1 + math.exp(-sum(a * b for a, b in zip(true_w, x, strict=True))))
        rows.append((x, int(rng.random() < p)))
    return rows


def evaluate(w: list[float], rows: list[tuple[list[float], int]]) -> tuple[float, float]:
    loss = correct = 0.0
    for x, y in rows:
        p = 1 / (1 + math.exp(-sum(a * b for a, b in zip(w, x, strict=True))))
        p = min(max(p, 1e-9), 1 - 1e-9)
        loss -= y * math.log(p) + (1 - y) * math.log(1 - p)
        correct += (p > 0.5) == bool(y)
    return loss / len(rows), correct / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument(
        "--dir", default=None, help="runs directory (default $RUNWAL_DIR or ./runs)"
    )
    parser.add_argument("--project", default="runwal-demo")
    parser.add_argument("--name", default=None)
    args = parser.parse_args()

    config = {
        "lr": 0.05,
        "batch_size": 16,
        "seed": 0,
        "optimizer": {"name": "sgd", "momentum": 0.0},
    }
    rng = random.Random(config["seed"])
    train, val = make_data(2000, rng), make_data(400, rng)
    w = [0.0, 0.0, 0.0]

    with logwriter.init(
        project=args.project, name=args.name, config=config, dir=args.dir,
        tags=["example", "logreg"], notes="runwal example: logistic regression on synthetic data",
    ) as run:  # fmt: skip
        run.define_metric("val/acc", summary="max")
        run.define_metric("train/loss", summary="min")
        steps_per_epoch = len(train) // config["batch_size"]
        curve: list[list[float]] = []  # (step, val acc) at each evaluation
        for step in range(args.steps):
            i = (step % steps_per_epoch) * config["batch_size"]
            batch = train[i : i + config["batch_size"]]
            grad = [0.0, 0.0, 0.0]
            for x, y in batch:
                p = 1 / (1 + math.exp(-sum(a * b for a, b in zip(w, x, strict=True))))
                for j, xj in enumerate(x):
                    grad[j] += (p - y) * xj / len(batch)
            w = [wj - config["lr"] * g for wj, g in zip(w, grad, strict=True)]
            loss, acc = evaluate(w, batch)
            run.log({"train": {"loss": loss, "acc": acc}, "lr": config["lr"]}, step=step)
            if (step + 1) % 50 == 0:
                vloss, vacc = evaluate(w, val)
                run.log({"val/loss": vloss, "val/acc": vacc}, step=step)
                curve.append([step, vacc])
                print(f"step {step + 1}: train loss {loss:.3f}, val acc {vacc:.3f}")

        # Rich values (no numpy needed for tables): some predictions, and a chart.
        rows = []
        for x, y in val[:8]:
            p = 1 / (1 + math.exp(-sum(a * b for a, b in zip(w, x, strict=True))))
            rows.append([*(round(v, 3) for v in x), y, round(p, 3)])
        preds = logwriter.Table(columns=["x1", "x2", "x3", "label", "p"], data=rows)
        chart = logwriter.plot.line(logwriter.Table(columns=["step", "val_acc"], data=curve),
                                    "step", "val_acc", title="validation accuracy")
        run.log({"val/predictions": preds, "val/curve": chart}, step=args.steps - 1)

        with tempfile.TemporaryDirectory() as tmp:
            ckpt = Path(tmp) / "model.json"
            ckpt.write_text(json.dumps({"w": w}))
            run.save(str(ckpt), base_path=tmp)  # copied into the run dir's files/
        run.summary["final_weights_norm"] = math.sqrt(sum(x * x for x in w))
    print(f"run {run.id} written to {run.run_dir}")


if __name__ == "__main__":
    main()
