"""``vision-attention plot``: training curves of runs (their Lightning CSV logs) as one PNG, one
panel per metric, runs overlaid."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME, HELP = "plot", "draw runs' training curves (Lightning CSV logs) to a PNG, runs overlaid"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (any holding metrics.csv) or metrics.csv files")
    parser.add_argument(
        "--metric",
        action="append",
        help="a logged metric, e.g. val/bleu4 (repeat for more panels; "
        "default: the val/ metrics every run logged, up to 4)",
    )
    parser.add_argument("--label", action="append", help="a name per run for the legend (default: the folder names)")
    parser.add_argument("--out", type=Path, default=Path("curves.png"), help="the PNG to write (default curves.png)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def run(args: argparse.Namespace) -> int:
    from ..files.outputs import check_output, write_atomically
    from ..viz.curves import plot_runs

    if args.out.suffix.lower() != ".png":
        raise ValueError(f"--out must name a .png file, got {str(args.out)!r}")
    inputs = [p for run in args.runs for p in ([run] if run.is_file() else run.rglob("*.csv"))]
    check_output(args.out, "--out", inputs, args.overwrite)
    print(
        plot_runs(args.runs, args.out, args.metric, args.label, write=lambda path, save: write_atomically(path, save))
    )
    return 0
