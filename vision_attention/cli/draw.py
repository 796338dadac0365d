"""``vision-attention draw``: images drawn step by step (an animated GIF, and a strip of steps)
by the shipped DRAW model, or with ``--caption`` the shipped alignDRAW model, or any other."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..kinds import Kind, default_model
from .arguments import device, integer

NAME, HELP = "draw", "draw images step by step with the shipped DRAW or alignDRAW model, or another"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        help=f"a shipped model's name, a model folder, a checkpoint or a Hub id (default "
        f"{default_model(Kind.DRAWER)}, or {default_model(Kind.ALIGNDRAWER)} with --caption)",
    )
    parser.add_argument("--checkpoint", type=Path, help="a DRAW or alignDRAW checkpoint (.ckpt); the same as --model")
    parser.add_argument("--caption", help="what to draw (alignDRAW checkpoints); the GIF shows the words attended")
    parser.add_argument("--num", type=integer("--num"), default=16, help="images to draw (default 16)")
    parser.add_argument("--out", type=Path, default=Path("draw.gif"), help="the animated GIF to write")
    parser.add_argument("--strip", type=Path, help="also write a PNG strip of selected steps")
    parser.add_argument("--seed", type=integer("--seed", 0, 2**63 - 1), default=0, help="random seed (default 0)")
    parser.add_argument(  # a GIF frame lasts at most 655.35 s
        "--frame-ms", type=integer("--frame-ms", 10, 655350), default=80, help="time per frame in ms (default 80)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace --out or --strip if it exists")
    parser.add_argument("--device", type=device, default="cpu", help="cpu or cuda (default cpu)")


def run(args: argparse.Namespace) -> int:
    from ..files.outputs import check_outputs
    from ..inference import Drawer
    from ..resources import require_memory
    from ..viz import drawing_gif, drawing_strip

    if args.out.suffix.lower() != ".gif":
        raise ValueError(f"--out must name a .gif file (the animation), got {str(args.out)!r}")
    if args.strip is not None and args.strip.suffix.lower() != ".png":
        raise ValueError(f"--strip must name a .png file, got {str(args.strip)!r}")
    if args.model is not None and args.checkpoint is not None:
        raise ValueError("give --model or --checkpoint, not both")
    kind = Kind.ALIGNDRAWER if args.caption is not None else Kind.DRAWER
    model = str(args.checkpoint or args.model or default_model(kind))
    inputs, folders = ([model] if Path(model).is_file() else []), ([model] if Path(model).is_dir() else [])
    check_outputs([args.out, *([args.strip] if args.strip else [])], "--out/--strip", inputs, args.overwrite, folders)
    drawer = Drawer.from_pretrained(model, map_location=args.device)
    require_memory(drawer.bytes_per_image(gif_scale=3), args.num, "cpu", f"--num {args.num} with its GIF")
    drawing = drawer.sample(args.num, seed=args.seed, caption=args.caption)
    print(drawing_gif(drawing, args.out, duration_ms=args.frame_ms))
    if args.strip:
        print(drawing_strip(drawing, args.strip))
    return 0
