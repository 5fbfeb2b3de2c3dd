"""A Hugging Face Trainer script with ``report_to="wandb"``: transformers' own
WandbCallback imports wandb (runwal's shim under ``runwal run``), logs the
TrainingArguments and the model config as config and each on_log row with
``train/global_step``. A tiny BERT built here, random tokens, CPU, no downloads."""

import sys

import torch
import transformers


class RandomTokens(torch.utils.data.Dataset):
    def __init__(self, n, seed):
        gen = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, 100, (n, 8), generator=gen)
        self.labels = torch.randint(0, 2, (n,), generator=gen)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def main(out_dir):
    torch.manual_seed(0)
    config = transformers.BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, vocab_size=100,
                                     max_position_embeddings=16, num_labels=2)
    model = transformers.BertForSequenceClassification(config)
    args = transformers.TrainingArguments(
        output_dir=out_dir, max_steps=4, logging_steps=2, eval_strategy="steps", eval_steps=4,
        save_strategy="no", report_to="wandb", run_name="hf-tiny", use_cpu=True,
        per_device_train_batch_size=4, per_device_eval_batch_size=4, disable_tqdm=True,
        learning_rate=3e-4, dataloader_num_workers=0)
    trainer = transformers.Trainer(model, args, train_dataset=RandomTokens(16, 1),
                                   eval_dataset=RandomTokens(8, 2))
    trainer.train()


if __name__ == "__main__":
    main(sys.argv[1])
