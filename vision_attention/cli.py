"""The ``vision-attention`` command.

* ``fit``, ``validate``, ``test``, ``predict``: LightningCLI, e.g.
  ``vision-attention fit --config train/sat_soft_shapes.yaml``; the run's config is
  saved beside its checkpoints so it can be replayed.
* ``caption``: caption images with a trained checkpoint.
* ``draw``: draw images step by step with a trained DRAW checkpoint (an animated GIF).

A user mistake ends with one line naming the problem and a non-zero exit status;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__

LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")
USER_ERRORS = (FileNotFoundError, ValueError, KeyError, OSError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vision-attention",
        description="Attention in vision: Show, Attend and Tell, DRAW, alignDRAW and attentive text models.",
        epilog="Training: vision-attention {fit,validate,test,predict} --config train/<experiment>.yaml "
        "(see `vision-attention fit --help`).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in LIGHTNING_COMMANDS:
        commands.add_parser(name, help=f"LightningCLI {name} (--config train/X.yaml)", add_help=False)
    caption = commands.add_parser("caption", help="caption images with a trained captioner checkpoint")
    caption.add_argument("--checkpoint", required=True, type=Path, help="a captioner checkpoint (.ckpt)")
    caption.add_argument("--beam-size", type=int, default=5, help="beam width (default 5)")
    caption.add_argument("--max-len", type=int, default=30, help="longest caption in words (default 30)")
    caption.add_argument("--attention-dir", type=Path, help="write one PNG per image with a heatmap per word")
    caption.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    caption.add_argument("images", nargs="+", type=Path, help="image files")
    draw = commands.add_parser("draw", help="draw images step by step with a trained DRAW checkpoint")
    draw.add_argument("--checkpoint", required=True, type=Path, help="a DRAW checkpoint (.ckpt)")
    draw.add_argument("--num", type=int, default=16, help="images to draw (default 16)")
    draw.add_argument("--out", type=Path, default=Path("draw.gif"), help="the animated GIF to write")
    draw.add_argument("--strip", type=Path, help="also write a PNG strip of selected steps")
    draw.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    draw.add_argument("--frame-ms", type=int, default=80, help="time per frame in ms (default 80)")
    draw.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    return parser


def run_lightning(argv: list[str]) -> int:
    from .lightning_cli import run

    run(argv)
    return 0


def run_caption(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from .captioner import Captioner
    from .data.images import BadImageError, load_rgb
    from .viz import save_attention_figure

    captioner = Captioner.from_checkpoint(args.checkpoint, map_location=args.device)
    failures = 0
    for path in tqdm(args.images, desc="captioning", unit="image", disable=len(args.images) < 8, file=sys.stderr):
        try:
            image = load_rgb(path)
        except (BadImageError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            failures += 1
            continue
        result = captioner.caption(image, beam_size=args.beam_size, max_len=args.max_len)[0]
        print(f"{path}\t{result.text}", flush=True)
        if args.attention_dir:
            save_attention_figure(args.attention_dir / f"{path.stem}.png", image, result.tokens, result.alphas)
    return 1 if failures else 0


def run_draw(args: argparse.Namespace) -> int:
    from .drawer import Drawer
    from .viz import drawing_gif, drawing_strip

    if args.num < 1:
        raise ValueError(f"--num must be at least 1, got {args.num}")
    drawing = Drawer.from_checkpoint(args.checkpoint, map_location=args.device).sample(args.num, seed=args.seed)
    print(drawing_gif(drawing, args.out, duration_ms=args.frame_ms))
    if args.strip:
        print(drawing_strip(drawing, args.strip))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    try:
        if argv and argv[0] in LIGHTNING_COMMANDS:
            return run_lightning(argv)
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command == "caption":
            return run_caption(args)
        if args.command == "draw":
            return run_draw(args)
        parser.print_help()
        return 0
    except USER_ERRORS as err:
        if debug:
            raise
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"vision-attention: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
