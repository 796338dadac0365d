"""``vision-attention caption``: photos in (files, folders, globs), captions out (lines, JSON,
JSON lines or CSV, :mod:`~vision_attention.cli.caption_records`), in batches.

Photos are decoded in a thread beside the model (:mod:`~vision_attention.cli.caption_inputs`)
and captioned ``--batch-size`` at a time; a photo that cannot be read is reported on its own
line on stderr and the others go on, with exit status 1 at the end. Ctrl-C or SIGTERM stops the
run after writing the captions already made (exit status 130 or 143); ``--resume`` continues
into the same ``--output``, skipping the photos it holds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..kinds import Kind
from ..kinds import default_model as default_model_of
from .arguments import device, integer
from .caption_inputs import expand_inputs
from .caption_records import FIELDS, CaptionWriter, read_records
from .caption_run import CaptionRun
from .captioners import add_guide_arguments, guide_settings, load_captioner

NAME, HELP = "caption", "caption photos with the shipped captioner or a trained one"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    default_model = default_model_of(Kind.CAPTIONER)
    parser.add_argument(
        "--model",
        action="append",
        help=f"a shipped model's name, a model folder, a checkpoint (.ckpt) "
        f"or a Hub id (default {default_model}); twice or more: their ensemble",
    )
    parser.add_argument("--checkpoint", type=Path, help="a captioner checkpoint (.ckpt); the same as --model")
    parser.add_argument(
        "--beam-size", type=integer("--beam-size"), default=3, help="beam width (default 3, as the shipped figures)"
    )
    parser.add_argument(
        "--max-len", type=integer("--max-len"), default=30, help="longest caption in words (default 30)"
    )
    parser.add_argument(
        "--batch-size", type=integer("--batch-size"), default=32, help="photos captioned at once (default 32)"
    )
    parser.add_argument("--recursive", action="store_true", help="also take the photos in the folders' subfolders")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", dest="format", action="store_const", const="json", help="one JSON array of records")
    output.add_argument("--jsonl", dest="format", action="store_const", const="jsonl", help="one JSON record a line")
    output.add_argument(
        "--csv", dest="format", action="store_const", const="csv", help=f"CSV with the header {','.join(FIELDS)}"
    )
    parser.add_argument("--output", type=Path, help="write the captions to this file instead of stdout")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run into the same --output, skipping the photos it holds",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace --output, --html or figures that exist")
    parser.add_argument("--attention-dir", type=Path, help="write one PNG per image with a heatmap per word")
    parser.add_argument(
        "--html", type=Path, help="write one self-contained page: each image, its caption and its attention per word"
    )
    add_guide_arguments(parser)
    parser.add_argument("--device", type=device, default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("images", nargs="+", help="image files, folders of images, or glob patterns ('photos/*.jpg')")
    parser.set_defaults(format="lines")


def run(args: argparse.Namespace) -> int:
    from ..files.outputs import check_output, check_outputs, figure_paths

    if args.model is not None and args.checkpoint is not None:
        raise ValueError("give --model or --checkpoint, not both")
    if args.resume and args.output is None:
        raise ValueError("--resume continues an --output file: name it")
    models = [str(args.checkpoint)] if args.checkpoint is not None else args.model or [default_model_of(Kind.CAPTIONER)]
    skipped: dict[str, int] = {}
    paths, problems = expand_inputs(args.images, args.recursive, skipped)
    inputs = [*paths, *(m for m in models if Path(m).is_file())]
    folders = [m for m in models if Path(m).is_dir()]  # a model folder in use: none of its files is written
    earlier = []
    if args.output is not None:
        resuming = args.resume and args.output.is_file()
        check_output(args.output, "--output", inputs, args.overwrite or resuming, folders)
        if resuming:
            earlier = read_records(args.output, args.format)
    if args.html is not None:
        if args.html.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"--html must name an .html file, got {str(args.html)!r}")
        check_output(args.html, "--html", inputs, args.overwrite, folders)
    if args.attention_dir is not None and args.attention_dir.exists() and not args.attention_dir.is_dir():
        raise ValueError(f"--attention-dir {args.attention_dir} is a file, not a folder")
    figures = figure_paths(args.attention_dir, paths) if args.attention_dir else [None] * len(paths)
    if args.attention_dir:
        check_outputs([f for f in figures if not f.is_dir()], "--attention-dir figure", inputs, args.overwrite, folders)
    done = {r["image"] for r in earlier}
    todo = [p for p in paths if str(p) not in done]
    captioner = load_captioner(models, args.device, guide_settings(args))
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    if skipped:
        kinds = ", ".join(f"{n} {suffix}" for suffix, n in sorted(skipped.items()))
        print(f"note: skipped {sum(skipped.values())} files whose names are not of images ({kinds})", file=sys.stderr)
    if len(todo) < len(paths):
        print(f"--resume: {len(paths) - len(todo)} photos are in {args.output} already", file=sys.stderr)
    run = CaptionRun(args, captioner, CaptionWriter(args.format, args.output, earlier), dict(zip(paths, figures)))
    run.failures = len(problems)
    return run.over(todo)
