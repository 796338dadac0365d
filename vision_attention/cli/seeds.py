"""``vision-attention seeds``: one recipe fitted with several seeds, and the mean and spread of a
metric over them."""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from .arguments import integer

NAME, HELP = "seeds", "fit a config with several seeds; report mean and std of a metric"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="a train/*.yaml config")
    parser.add_argument("--seeds", type=integer("--seeds"), default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--metric", default="val/acc", help="metric after the last validation (default val/acc)")
    parser.add_argument("--root", type=Path, default=Path("runs/seeds"), help="where the runs go")
    parser.add_argument("overrides", nargs=argparse.REMAINDER, help="after --: LightningCLI flags for every run")


def run(args: argparse.Namespace) -> int:
    from .lightning import run as fit

    if not args.config.is_file():
        raise FileNotFoundError(f"{args.config}: no such config")
    values = []
    for seed in range(args.seeds):
        cli = fit(
            [
                "fit",
                "--config",
                str(args.config),
                "--seed_everything",
                str(seed),
                "--trainer.default_root_dir",
                str(args.root / args.config.stem / f"seed{seed}"),
                "--trainer.enable_progress_bar",
                "false",
                "--trainer.enable_model_summary",
                "false",
                *[flag for flag in args.overrides if flag != "--"],
            ]
        )
        metrics = cli.trainer.callback_metrics
        if args.metric not in metrics:
            raise KeyError(f"{args.metric} was not logged; logged: {', '.join(sorted(metrics))}")
        values.append(float(metrics[args.metric]))
        print(f"seed {seed}: {args.metric} = {values[-1]:.4f}", flush=True)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    print(
        f"{args.config.stem}: {args.metric} mean {statistics.mean(values):.4f} std {spread:.4f} "
        f"over {len(values)} seeds"
    )
    return 0
