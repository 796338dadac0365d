"""The ``vision-attention`` command: one module per subcommand, each with ``add_arguments(parser)``
and ``run(args)``, registered here; dispatch is ``args.run(args)``.

* ``fit``, ``validate``, ``test`` (:mod:`.lightning`): LightningCLI on a recipe, e.g.
  ``vision-attention fit --config train/sat_soft_shapes.yaml``; the run's config is saved beside
  its checkpoints so it can be replayed.
* ``caption``: caption photos with the shipped captioner or any other; ``draw``: draw with the
  shipped DRAW or alignDRAW model or any other; ``export``: a checkpoint as a model folder;
  ``score``: a captioner's figures; ``plot``: training curves; ``judge``: an alignDRAW model
  judged; ``classify`` and ``translate``: the text models; ``demo``: train and show on generated
  data; ``seeds``: one recipe over several seeds.

A user mistake ends with one line naming the problem and exit status 2; ``--debug`` shows the
traceback.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..allocator import keep_freed_memory
from . import caption, classify, demo, draw, export, judge, lightning, plot, score, seeds, translate
from .arguments import Parser, common

LIGHTNING_COMMANDS = lightning.COMMANDS
COMMANDS = (caption, draw, export, score, plot, judge, classify, translate, demo, seeds)
# What users of other Lightning tools reach for; each output kind has its own command here.
NOT_PREDICT = (
    "there is no predict command: use caption, draw, classify or translate "
    "(caption and draw need no model: they use the shipped ones)"
)
USER_ERRORS = (FileNotFoundError, ValueError, KeyError, OSError, ImportError)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="vision-attention",
        description="Attention in vision: Show, Attend and Tell, DRAW, alignDRAW and attentive text models.",
        epilog="Training: vision-attention {fit,validate,test} --config train/<experiment>.yaml "
        "(see `vision-attention fit --help`).",
        parents=[common()],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in LIGHTNING_COMMANDS:  # LightningCLI reads the rest of the line itself
        sub = commands.add_parser(name, help=f"LightningCLI {name} (--config train/X.yaml)", add_help=False)
        sub.set_defaults(run=lightning.run_command)
    for module in COMMANDS:
        sub = commands.add_parser(module.NAME, help=module.HELP, parents=[common()])
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line read: a Lightning command keeps the rest of its line for LightningCLI
    (``--debug`` anywhere before a ``--`` is ours), any other refuses what it does not take."""
    parser = build_parser()
    options = argv[: argv.index("--")] if "--" in argv else argv
    command = next((a for a in options if not a.startswith("-")), None)
    if command in LIGHTNING_COMMANDS:
        args = parser.parse_args([command])
        args.debug = "--debug" in options
        args.lightning_argv = [a for i, a in enumerate(argv) if not (a == "--debug" and i < len(options))]
        return args
    args = parser.parse_args(argv)
    if args.command is None:
        args.run = lambda _: parser.print_help() or 0
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    keep_freed_memory()  # training and batched captioning vary their shapes from batch to batch
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = False
    try:
        if argv and argv[0] == "predict":
            raise ValueError(NOT_PREDICT)
        args = parse(argv)
        debug = args.debug
        return args.run(args)
    except USER_ERRORS as err:
        if debug:
            raise
        message = str(err).strip() or type(err).__name__  # whole: a list of missing files keeps its names
        print(f"vision-attention: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
