"""``vision-attention classify``: sentences through a trained text classifier; ``--html`` lights
each word by its attention."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME, HELP = "classify", "classify sentences with a trained text classifier"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="a classifier checkpoint (.ckpt)")
    parser.add_argument("--html", type=Path, help="write the sentences with each word lit by its attention")
    parser.add_argument("--overwrite", action="store_true", help="replace --html if it exists")
    parser.add_argument("sentences", nargs="+", help="sentences to classify")


def run(args: argparse.Namespace) -> int:
    from ..files.outputs import check_output, write_atomically
    from ..inference import Classifier
    from ..viz import token_weights_html

    if args.html is not None:
        check_output(args.html, "--html", [args.checkpoint], args.overwrite)
    classifier = Classifier.from_checkpoint(args.checkpoint)
    results = classifier.classify(args.sentences)
    parts = []
    for number, (sentence, result) in enumerate(zip(args.sentences, results), start=1):
        if result.words > len(result.tokens):
            print(
                f"note: sentence {number} has {result.words} words; the model reads its first {len(result.tokens)}",
                file=sys.stderr,
            )
        print(f"{result.label}\t{result.probability:.3f}\t{sentence}")
        if result.weights is not None:
            parts.append(
                token_weights_html(result.tokens, result.weights, f"label {result.label} ({result.probability:.0%})")
            )
    if args.html:
        page = "<!doctype html><meta charset=utf-8><body>" + "\n".join(parts) + "</body>\n"
        print(write_atomically(args.html, lambda tmp: tmp.write_text(page, encoding="utf-8")))
    return 0
