"""``vision-attention demo``: trains a captioner and a drawer on data it makes itself, a fixed
number of steps each, and writes one HTML page of captions, attention maps, a drawing animation
and metrics (:mod:`vision_attention.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..demo import DemoSettings
from .arguments import integer

NAME, HELP = "demo", "train on generated data (fixed steps) and write runs/demo/index.html"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings = DemoSettings()
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default runs/demo)")
    parser.add_argument(
        "--caption-steps",
        type=integer("--caption-steps"),
        default=settings.caption_steps,
        help=f"captioner training steps (default {settings.caption_steps})",
    )
    parser.add_argument(
        "--draw-steps",
        type=integer("--draw-steps"),
        default=settings.draw_steps,
        help=f"DRAW training steps (default {settings.draw_steps})",
    )
    parser.add_argument("--seed", type=integer("--seed", 0), default=0, help="random seed (default 0)")


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    run_demo(args.out, DemoSettings(caption_steps=args.caption_steps, draw_steps=args.draw_steps, seed=args.seed))
    return 0
