"""``vision-attention translate``: inputs through a trained seq2seq model (dates, in the recipes);
``--alignment-dir`` writes each one's source x target attention."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import integer

NAME, HELP = "translate", "translate (e.g. dates) with a trained seq2seq checkpoint"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="a seq2seq checkpoint (.ckpt)")
    parser.add_argument(
        "--beam-size", type=integer("--beam-size", 1, 1000), default=1, help="beam width (default 1: greedy)"
    )
    parser.add_argument("--alignment-dir", type=Path, help="write one source x target attention PNG per input")
    parser.add_argument("--overwrite", action="store_true", help="replace alignment files that exist")
    parser.add_argument("sources", nargs="+", help="inputs, e.g. 'saturday 9 may 2018'")


def run(args: argparse.Namespace) -> int:
    from ..files.outputs import check_outputs, write_atomically
    from ..inference import Translator
    from ..viz import alignment_image

    figures = (
        [args.alignment_dir / f"alignment_{i}.png" for i in range(len(args.sources))] if args.alignment_dir else []
    )
    check_outputs(figures, "--alignment-dir file", [args.checkpoint], args.overwrite)
    translations = Translator.from_checkpoint(args.checkpoint).translate(args.sources, beam_size=args.beam_size)
    for i, (source, result) in enumerate(zip(args.sources, translations)):
        print(f"{source}\t{result.text}")
        if figures:
            image = alignment_image(result.source, result.target, result.alignment)
            write_atomically(figures[i], lambda tmp, image=image: image.save(tmp, format="PNG"))
    return 0
