"""A transformers Trainer under torchrun (gloo, CPU) with ``RunwalCallback(shared=True)``.

argv: RUNS_DIR OUT_DIR. Run by test_shared_torchrun.py as ``torchrun --nproc-per-node 2``
without ``--rdzv-id``: the processes agree on the run id through the callback itself.
A tiny BERT built here: no downloads.
"""

from __future__ import annotations

import sys
import time
import warnings
from typing import Any

import torch
import transformers

from logwriter.integrations.transformers import RunwalCallback

warnings.filterwarnings("ignore")


class RandomTokens(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, 100, (n, 8), generator=gen)
        self.labels = torch.randint(0, 2, (n,), generator=gen)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


class SayStep(transformers.TrainerCallback):
    """Every process prints (its console is recorded) and takes its time (system metrics)."""

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        print(f"rank {args.process_index} step {state.global_step}", flush=True)
        time.sleep(0.15)


def main() -> None:
    runs, out = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    config = transformers.BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, vocab_size=100,
                                     max_position_embeddings=16)
    args = transformers.TrainingArguments(
        output_dir=out, max_steps=6, logging_steps=2, report_to="none", use_cpu=True,
        ddp_backend="gloo", per_device_train_batch_size=4, disable_tqdm=True,
        learning_rate=3e-4, dataloader_num_workers=0, save_strategy="no")
    callback = RunwalCallback(project="shared-hf", dir=runs, mode="offline", shared=True,
                              stats_interval=0.2)
    trainer = transformers.Trainer(transformers.BertForSequenceClassification(config), args,
                                   train_dataset=RandomTokens(48, 1),
                                   callbacks=[callback, SayStep()])
    trainer.train()
    print(f"rank {args.process_index} done, run {callback.run.id if callback.run else None}",
          flush=True)


if __name__ == "__main__":
    main()
