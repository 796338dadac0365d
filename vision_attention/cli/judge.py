"""``vision-attention judge``: does a judge network trained on real images read an alignDRAW
model's drawings as their captions say (Mansimov et al. 2016's evaluation, with a judge)?"""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import device, integer

NAME, HELP = "judge", "score an alignDRAW model: does a judge read its images as their captions say?"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--drawer", required=True, type=Path, help="an alignDRAW checkpoint (.ckpt)")
    parser.add_argument("--judge", required=True, type=Path, help="a judge checkpoint (train/judge_*.yaml)")
    parser.add_argument(
        "--split", nargs="+", default=["test", "compositional"], help="splits (default: test compositional)"
    )
    parser.add_argument("--num", type=integer("--num"), default=500, help="captions per split (default 500)")
    parser.add_argument("--seed", type=integer("--seed", 0, 2**63 - 1), default=0, help="random seed (default 0)")
    parser.add_argument("--device", type=device, default="cpu", help="cpu or cuda (default cpu)")


def run(args: argparse.Namespace) -> int:
    from ..inference import Drawer, Judge, judge_drawer

    drawer, judge = Drawer.from_checkpoint(args.drawer, map_location=args.device), Judge.from_checkpoint(args.judge)
    for split in args.split:
        print(judge_drawer(drawer, judge, split, args.num, seed=args.seed).summary(), flush=True)
    return 0
