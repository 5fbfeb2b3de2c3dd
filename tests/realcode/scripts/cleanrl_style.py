"""cleanrl's dqn.py, its tracking path condensed: argparse args, ``vars(args)`` as the
config, wandb.init(sync_tensorboard=True, monitor_gym=True, save_code=True), and
every number written to a torch.utils.tensorboard SummaryWriter under
``runs/{run_name}`` (cleanrl never calls wandb.log). The environment is a stub:
no gym here."""

import argparse
import os
import random
import time
from distutils.util import strtobool  # cleanrl's own import, kept as written

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter


def parse_args():
    # fmt: off
    parser = argparse.ArgumentParser()
    parser.add_argument("--exp-name", type=str, default=os.path.basename(__file__)[: -len(".py")],
        help="the name of this experiment")
    parser.add_argument("--seed", type=int, default=1,
        help="seed of the experiment")
    parser.add_argument("--torch-deterministic", type=lambda x: bool(strtobool(x)), default=True,
        nargs="?", const=True)
    parser.add_argument("--track", type=lambda x: bool(strtobool(x)), default=False, nargs="?",
        const=True, help="if toggled, this experiment will be tracked with Weights and Biases")
    parser.add_argument("--wandb-project-name", type=str, default="cleanRL")
    parser.add_argument("--wandb-entity", type=str, default=None)
    parser.add_argument("--capture-video", type=lambda x: bool(strtobool(x)), default=False,
        nargs="?", const=True)
    parser.add_argument("--env-id", type=str, default="CartPole-v1")
    parser.add_argument("--total-timesteps", type=int, default=40)
    parser.add_argument("--learning-rate", type=float, default=2.5e-4)
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--train-frequency", type=int, default=10)
    args = parser.parse_args()
    # fmt: on
    return args


if __name__ == "__main__":
    args = parse_args()
    run_name = f"{args.env_id}__{args.exp_name}__{args.seed}__{int(time.time())}"
    if args.track:
        import wandb

        wandb.init(
            project=args.wandb_project_name,
            entity=args.wandb_entity,
            sync_tensorboard=True,
            config=vars(args),
            name=run_name,
            monitor_gym=True,
            save_code=True,
        )
    writer = SummaryWriter(f"runs/{run_name}")
    writer.add_text(
        "hyperparameters",
        "|param|value|\n|-|-|\n%s" % ("\n".join([f"|{key}|{value}|" for key, value in vars(args).items()])),  # noqa: E501, UP031 (as cleanrl writes it)
    )
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    q_network = torch.nn.Linear(4, 2)
    optimizer = torch.optim.Adam(q_network.parameters(), lr=args.learning_rate)
    start_time = time.time()
    episodic_return = 0.0
    for global_step in range(args.total_timesteps):
        obs = torch.randn(8, 4)
        episodic_return += float(np.random.rand())
        if global_step % 10 == 9:
            print(f"global_step={global_step}, episodic_return={episodic_return}")
            writer.add_scalar("charts/episodic_return", episodic_return, global_step)
            episodic_return = 0.0
        if global_step % args.train_frequency == 0:
            loss = q_network(obs).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            writer.add_scalar("losses/td_loss", loss, global_step)
            writer.add_scalar("charts/SPS", int(global_step / (time.time() - start_time + 1e-9)),
                              global_step)
    writer.close()
