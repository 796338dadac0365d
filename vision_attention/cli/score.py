"""``vision-attention score``: a captioner's metrics on a split of a captions file (the model
cards' figures, and how its attention points), or with ``--imagenet`` how often its captions name
what photos of known ImageNet classes show."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..kinds import Kind, default_model
from .arguments import device, integer
from .captioners import add_guide_arguments, guide_settings, load_captioner

NAME, HELP = "score", "score a captioner on a split of a captions file (no Lightning, no cache)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        action="append",
        help=f"a captioner (default {default_model(Kind.CAPTIONER)}); twice or more: their ensemble",
    )
    parser.add_argument(
        "--annotations", type=Path, help="captions.txt (with the split lists beside it) or a Karpathy JSON"
    )
    parser.add_argument(
        "--imagenet",
        type=Path,
        metavar="DIR",
        help="instead: photos named <wnid>_<label>.JPEG; reports how many captions name their class "
        "(or a WordNet hypernym) and how many name a wrong animal",
    )
    parser.add_argument(
        "--image-root", type=Path, help="where the photos are (default: images/ beside the annotations)"
    )
    parser.add_argument(
        "--split", default="val", choices=("train", "val", "test"), help="default val (Flickr8k's dev list)"
    )
    parser.add_argument("--beam-size", type=integer("--beam-size"), default=3, help="beam width (default 3)")
    parser.add_argument(
        "--batch-size", type=integer("--batch-size"), default=32, help="photos captioned at once (default 32)"
    )
    parser.add_argument("--limit", type=integer("--limit"), help="score only the split's first N photos")
    parser.add_argument("--official", action="store_true", help="also the COCO caption code's metrics (pycocoevalcap)")
    add_guide_arguments(parser)
    parser.add_argument("--device", type=device, default="cpu", help="cpu or cuda (default cpu)")


def run(args: argparse.Namespace) -> int:
    import warnings

    from ..data.caption_files import read_caption_records
    from ..inference.scoring import score_captioner, score_naming

    if (args.annotations is None) == (args.imagenet is None):
        raise ValueError("score needs --annotations (a captions file) or --imagenet (a folder of class photos)")
    models = args.model or [default_model(Kind.CAPTIONER)]
    if args.imagenet is not None:
        captioner = load_captioner(models, args.device, guide_settings(args))
        report = score_naming(captioner, args.imagenet, args.beam_size, args.batch_size, args.limit, progress=True)
        print(json.dumps({"model": captioner.name, "beam_size": args.beam_size, **report}, indent=1))
        return 0
    records = [r for r in read_caption_records(args.annotations, args.image_root) if r.split == args.split]
    records = records[: args.limit] if args.limit is not None else records
    if not records:
        raise ValueError(f"{args.annotations}: no photos in the {args.split} split")
    captioner = load_captioner(models, args.device, guide_settings(args))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="METEOR 1.5 needs Java")  # said once below, as a note
        metrics = score_captioner(captioner, records, args.beam_size, args.batch_size, args.official, progress=True)
    if args.official and metrics.get("coco_meteor") is None:
        print("note: METEOR 1.5 needs Java, which was not found: coco_meteor was not computed", file=sys.stderr)
    report = {
        "model": captioner.name,
        "split": args.split,
        "photos": len(records),
        "beam_size": args.beam_size,
        "guided": captioner.guide is not None and args.guide,
        "metrics": metrics,
    }
    print(json.dumps(report, indent=1))
    return 0
