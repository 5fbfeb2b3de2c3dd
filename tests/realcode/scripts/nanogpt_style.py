"""nanoGPT's train.py, its logging path condensed: the config is every plain global
(``configurator.py`` style), wandb.init(project, name, config) on the master
process, and at each eval a row with ``iter``, ``train/loss``, ``val/loss`` (0-d
tensors from ``estimate_loss``), ``lr`` and ``mfu``."""

import math
import time

import torch

# -----------------------------------------------------------------------------
out_dir = "out"
eval_interval = 2
log_interval = 1
eval_iters = 2
eval_only = False
wandb_log = True
wandb_project = "owt"
wandb_run_name = "gpt2-tiny"
dataset = "openwebtext"
gradient_accumulation_steps = 1
batch_size = 4
block_size = 8
n_layer = 1
n_embd = 16
dropout = 0.0
bias = False
learning_rate = 6e-4
max_iters = 6
weight_decay = 1e-1
beta1 = 0.9
beta2 = 0.95
grad_clip = 1.0
decay_lr = True
warmup_iters = 2
lr_decay_iters = 6
min_lr = 6e-5
device = "cpu"
dtype = "float32"
compile = False
# -----------------------------------------------------------------------------
config_keys = [k for k, v in globals().items()
               if not k.startswith("_") and isinstance(v, (int, float, bool, str))]
config = {k: globals()[k] for k in config_keys}  # will be useful for logging
# -----------------------------------------------------------------------------
master_process = True
torch.manual_seed(1337)
vocab = 32
data = torch.randint(0, vocab, (256,))


def get_batch(split):
    ix = torch.randint(len(data) - block_size, (batch_size,))
    x = torch.stack([data[i:i + block_size] for i in ix])
    y = torch.stack([data[i + 1:i + 1 + block_size] for i in ix])
    return x, y


class TinyGPT(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, n_embd)
        self.head = torch.nn.Linear(n_embd, vocab, bias=bias)

    def forward(self, idx, targets):
        logits = self.head(self.emb(idx))
        loss = torch.nn.functional.cross_entropy(logits.view(-1, vocab), targets.view(-1))
        return logits, loss


model = TinyGPT()
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, betas=(beta1, beta2),
                              weight_decay=weight_decay)


@torch.no_grad()
def estimate_loss():
    out = {}
    model.eval()
    for split in ["train", "val"]:
        losses = torch.zeros(eval_iters)
        for k in range(eval_iters):
            X, Y = get_batch(split)
            _, loss = model(X, Y)
            losses[k] = loss.item()
        out[split] = losses.mean()
    model.train()
    return out


def get_lr(it):
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


if wandb_log and master_process:
    import wandb
    wandb.init(project=wandb_project, name=wandb_run_name, config=config)

X, Y = get_batch("train")
t0 = time.time()
iter_num = 0
running_mfu = -1.0
while True:
    lr = get_lr(iter_num) if decay_lr else learning_rate
    for param_group in optimizer.param_groups:
        param_group["lr"] = lr
    if iter_num % eval_interval == 0 and master_process:
        losses = estimate_loss()
        print(f"step {iter_num}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
        if wandb_log:
            wandb.log({
                "iter": iter_num,
                "train/loss": losses["train"],
                "val/loss": losses["val"],
                "lr": lr,
                "mfu": running_mfu * 100,  # convert to percentage
            })
    _, loss = model(X, Y)
    X, Y = get_batch("train")
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    iter_num += 1
    if iter_num > max_iters:
        break
