"""The ``vision-attention`` command.

* ``fit``, ``validate``, ``test``: LightningCLI, e.g.
  ``vision-attention fit --config train/sat_soft_shapes.yaml``; the run's config is
  saved beside its checkpoints so it can be replayed.
* ``caption``: caption photos (files, folders, globs) with the shipped captioner or any other
  (``--model``); lines, ``--json``, ``--jsonl`` or ``--csv``; ``--attention-dir`` writes a figure
  per image, ``--html`` one self-contained page of them all.
* ``draw``: draw images step by step (an animated GIF) with the shipped DRAW model, or with
  ``--caption`` the shipped alignDRAW model, or any other (``--model``).
* ``export``: a Lightning checkpoint as a model folder (``model.safetensors`` + ``config.json``).
* ``score``: a captioner's metrics on a split of a captions file (the model cards' figures).
* ``plot``: training curves of runs (their Lightning CSV logs) as one PNG, runs overlaid.
* ``judge``: score an alignDRAW checkpoint with a judge trained on real images.
* ``classify``: classify sentences with a trained text classifier; ``--html`` shows the
  attention on each word.
* ``translate``: translate (dates) with a trained seq2seq checkpoint; ``--alignment-dir``
  writes the source x target attention heatmap of each.
* ``demo``: train a captioner and a drawer on data it makes itself, a fixed number of steps each
  and write an HTML page of captions, attention maps, a drawing animation and metrics.
* ``seeds``: fit one config with several seeds and report the mean and spread of a metric.

A user mistake ends with one line naming the problem and a non-zero exit status;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .allocator import keep_freed_memory
from .cli_caption import add_arguments as add_caption_arguments
from .cli_caption import add_guide_arguments
from .demo import DemoSettings
from .pretrained import DEFAULTS

LIGHTNING_COMMANDS = ("fit", "validate", "test")
# What users of other Lightning tools reach for; each output kind has its own command here.
NOT_PREDICT = (
    "there is no predict command: use caption, draw, classify or translate "
    "(caption and draw need no model: they use the shipped ones)"
)
USER_ERRORS = (FileNotFoundError, ValueError, KeyError, OSError, ImportError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vision-attention",
        description="Attention in vision: Show, Attend and Tell, DRAW, alignDRAW and attentive text models.",
        epilog="Training: vision-attention {fit,validate,test} --config train/<experiment>.yaml "
        "(see `vision-attention fit --help`).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in LIGHTNING_COMMANDS:
        commands.add_parser(name, help=f"LightningCLI {name} (--config train/X.yaml)", add_help=False)
    caption = commands.add_parser("caption", help="caption photos with the shipped captioner or a trained one")
    add_caption_arguments(caption, DEFAULTS["captioner"])
    draw = commands.add_parser(
        "draw", help="draw images step by step with the shipped DRAW or alignDRAW model, or another"
    )
    draw.add_argument(
        "--model",
        help=f"a shipped model's name, a model folder, a checkpoint or a Hub id (default "
        f"{DEFAULTS['drawer']}, or {DEFAULTS['aligndrawer']} with --caption)",
    )
    draw.add_argument("--checkpoint", type=Path, help="a DRAW or alignDRAW checkpoint (.ckpt); the same as --model")
    draw.add_argument("--caption", help="what to draw (alignDRAW checkpoints); the GIF shows the words attended")
    draw.add_argument("--num", type=int, default=16, help="images to draw (default 16)")
    draw.add_argument("--out", type=Path, default=Path("draw.gif"), help="the animated GIF to write")
    draw.add_argument("--strip", type=Path, help="also write a PNG strip of selected steps")
    draw.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    draw.add_argument("--frame-ms", type=int, default=80, help="time per frame in ms (default 80)")
    draw.add_argument("--overwrite", action="store_true", help="replace --out or --strip if it exists")
    draw.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    export = commands.add_parser(
        "export", help="write a Lightning checkpoint as a model folder (model.safetensors + config.json)"
    )
    export.add_argument("checkpoint", type=Path, help="a checkpoint (.ckpt) of any kind but a judge")
    export.add_argument("folder", type=Path, help="the folder to write (refused if it exists, unless --overwrite)")
    export.add_argument(
        "--dtype",
        default="float32",
        choices=("float32", "float16", "bfloat16"),
        help="how floating weights are stored (default float32; loaded as float32)",
    )
    export.add_argument("--card", type=Path, help="a model card (Markdown) to include as README.md")
    export.add_argument("--meta", type=Path, help="a JSON file of figures and provenance for config.json's meta")
    export.add_argument("--overwrite", action="store_true", help="replace the folder if it exists")
    score = commands.add_parser(
        "score", help="score a captioner on a split of a captions file (no Lightning, no cache)"
    )
    score.add_argument(
        "--model", action="append", help=f"a captioner (default {DEFAULTS['captioner']}); twice or more: their ensemble"
    )
    score.add_argument(
        "--annotations",
        type=Path,
        help="captions.txt (with the split lists beside it) or a Karpathy JSON",
    )
    score.add_argument(
        "--imagenet",
        type=Path,
        metavar="DIR",
        help="instead: photos named <wnid>_<label>.JPEG; reports how many captions name their class "
        "(or a WordNet hypernym) and how many name a wrong animal",
    )
    score.add_argument("--image-root", type=Path, help="where the photos are (default: images/ beside the annotations)")
    score.add_argument(
        "--split", default="val", choices=("train", "val", "test"), help="default val (Flickr8k's dev list)"
    )
    score.add_argument("--beam-size", type=int, default=3, help="beam width (default 3)")
    score.add_argument("--batch-size", type=int, default=32, help="photos captioned at once (default 32)")
    score.add_argument("--limit", type=int, help="score only the split's first N photos")
    score.add_argument("--official", action="store_true", help="also the COCO caption code's metrics (pycocoevalcap)")
    add_guide_arguments(score)
    score.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    plot = commands.add_parser("plot", help="draw runs' training curves (Lightning CSV logs) to a PNG, runs overlaid")
    plot.add_argument("runs", nargs="+", type=Path, help="run folders (any holding metrics.csv) or metrics.csv files")
    plot.add_argument(
        "--metric",
        action="append",
        help="a logged metric, e.g. val/bleu4 (repeat for more panels; "
        "default: the val/ metrics every run logged, up to 4)",
    )
    plot.add_argument("--label", action="append", help="a name per run for the legend (default: the folder names)")
    plot.add_argument("--out", type=Path, default=Path("curves.png"), help="the PNG to write (default curves.png)")
    plot.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    judge = commands.add_parser(
        "judge", help="score an alignDRAW model: does a judge read its images as their captions say?"
    )
    judge.add_argument("--drawer", required=True, type=Path, help="an alignDRAW checkpoint (.ckpt)")
    judge.add_argument("--judge", required=True, type=Path, help="a judge checkpoint (train/judge_*.yaml)")
    judge.add_argument(
        "--split", nargs="+", default=["test", "compositional"], help="splits (default: test compositional)"
    )
    judge.add_argument("--num", type=int, default=500, help="captions per split (default 500)")
    judge.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    judge.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    classify = commands.add_parser("classify", help="classify sentences with a trained text classifier")
    classify.add_argument("--checkpoint", required=True, type=Path, help="a classifier checkpoint (.ckpt)")
    classify.add_argument("--html", type=Path, help="write the sentences with each word lit by its attention")
    classify.add_argument("--overwrite", action="store_true", help="replace --html if it exists")
    classify.add_argument("sentences", nargs="+", help="sentences to classify")
    translate = commands.add_parser("translate", help="translate (e.g. dates) with a trained seq2seq checkpoint")
    translate.add_argument("--checkpoint", required=True, type=Path, help="a seq2seq checkpoint (.ckpt)")
    translate.add_argument("--beam-size", type=int, default=1, help="beam width (default 1: greedy)")
    translate.add_argument("--alignment-dir", type=Path, help="write one source x target attention PNG per input")
    translate.add_argument("--overwrite", action="store_true", help="replace alignment files that exist")
    translate.add_argument("sources", nargs="+", help="inputs, e.g. 'saturday 9 may 2018'")
    demo = commands.add_parser("demo", help="train on generated data (fixed steps) and write runs/demo/index.html")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default runs/demo)")
    settings = DemoSettings()
    demo.add_argument(
        "--caption-steps",
        type=int,
        default=settings.caption_steps,
        help=f"captioner training steps (default {settings.caption_steps})",
    )
    demo.add_argument(
        "--draw-steps",
        type=int,
        default=settings.draw_steps,
        help=f"DRAW training steps (default {settings.draw_steps})",
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    seeds = commands.add_parser("seeds", help="fit a config with several seeds; report mean and std of a metric")
    seeds.add_argument("--config", required=True, type=Path, help="a train/*.yaml config")
    seeds.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    seeds.add_argument("--metric", default="val/acc", help="metric after the last validation (default val/acc)")
    seeds.add_argument("--root", type=Path, default=Path("runs/seeds"), help="where the runs go")
    seeds.add_argument("overrides", nargs=argparse.REMAINDER, help="after --: LightningCLI flags for every run")
    return parser


def run_lightning(argv: list[str]) -> int:
    from .lightning_cli import run

    run(argv)
    return 0


def run_caption(args: argparse.Namespace) -> int:
    from .cli_caption import run_caption as caption

    return caption(args, DEFAULTS["captioner"])


def run_draw(args: argparse.Namespace) -> int:
    from .inference import Drawer
    from .outputs import check_outputs
    from .resources import check_device, check_int, require_memory
    from .viz import drawing_gif, drawing_strip

    check_int("--num", args.num), check_int("--seed", args.seed, low=0, high=2**63 - 1)
    check_int("--frame-ms", args.frame_ms, low=10, high=655350)  # a GIF frame lasts at most 655.35 s
    check_device("--device", args.device)
    if args.out.suffix.lower() != ".gif":
        raise ValueError(f"--out must name a .gif file (the animation), got {str(args.out)!r}")
    if args.strip is not None and args.strip.suffix.lower() != ".png":
        raise ValueError(f"--strip must name a .png file, got {str(args.strip)!r}")
    if args.model is not None and args.checkpoint is not None:
        raise ValueError("give --model or --checkpoint, not both")
    model = str(args.checkpoint or args.model or DEFAULTS["aligndrawer" if args.caption is not None else "drawer"])
    inputs, folders = ([model] if Path(model).is_file() else []), ([model] if Path(model).is_dir() else [])
    check_outputs([args.out, *([args.strip] if args.strip else [])], "--out/--strip", inputs, args.overwrite, folders)
    drawer = Drawer.from_pretrained(model, map_location=args.device)
    require_memory(drawer.bytes_per_image(gif_scale=3), args.num, "cpu", f"--num {args.num} with its GIF")
    drawing = drawer.sample(args.num, seed=args.seed, caption=args.caption)
    print(drawing_gif(drawing, args.out, duration_ms=args.frame_ms))
    if args.strip:
        print(drawing_strip(drawing, args.strip))
    return 0


def run_export(args: argparse.Namespace) -> int:
    import json

    from .inference import Captioner, Classifier, Drawer, Translator
    from .inference.loading import load_trained
    from .model_folders import check_folder_output, is_model_folder

    readers = {
        "captioner": Captioner,
        "drawer": Drawer,
        "aligndrawer": Drawer,
        "classifier": Classifier,
        "translator": Translator,
    }
    if is_model_folder(args.checkpoint):
        raise ValueError(f"{args.checkpoint}: a model folder already; export turns a checkpoint (.ckpt) into one")
    if not args.checkpoint.is_file():
        raise FileNotFoundError(f"{args.checkpoint}: no such checkpoint file")
    check_folder_output(args.folder, args.overwrite)  # before any work: a folder it may not replace
    card, meta = _text_argument("--card", args.card), _text_argument("--meta", args.meta)
    try:
        meta = json.loads(meta) if meta is not None else None
    except json.JSONDecodeError as err:
        raise ValueError(f"--meta {args.meta}: not JSON ({err})") from err
    kind = load_trained(args.checkpoint, tuple(readers), "a model that can be exported").kind
    options = {"guide": False} if kind == "captioner" else {}  # exporting needs no classifier beside it
    model = readers[kind].from_pretrained(args.checkpoint, **options)
    print(model.save_pretrained(args.folder, dtype=args.dtype, card=card, meta=meta, overwrite=args.overwrite))
    return 0


def _text_argument(name: str, path: Path | None) -> str | None:
    """The UTF-8 text of the file an option names, or one line naming the option."""
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{name} {path}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    except OSError as err:
        raise OSError(f"{name} {path}: cannot be read ({err.strerror or err})") from err


def run_score(args: argparse.Namespace) -> int:
    import json
    import warnings

    from .cli_caption import guide_settings, load_captioner
    from .data.caption_files import read_caption_records
    from .inference.scoring import score_captioner, score_naming
    from .resources import check_device, check_int

    check_int("--beam-size", args.beam_size), check_int("--batch-size", args.batch_size)
    check_device("--device", args.device)
    if (args.annotations is None) == (args.imagenet is None):
        raise ValueError("score needs --annotations (a captions file) or --imagenet (a folder of class photos)")
    if args.imagenet is not None:
        captioner = load_captioner(args.model or [DEFAULTS["captioner"]], args.device, guide_settings(args))
        report = score_naming(captioner, args.imagenet, args.beam_size, args.batch_size, args.limit, progress=True)
        print(json.dumps({"model": captioner.name, "beam_size": args.beam_size, **report}, indent=1))
        return 0
    records = [r for r in read_caption_records(args.annotations, args.image_root) if r.split == args.split]
    if args.limit is not None:
        records = records[: check_int("--limit", args.limit)]
    if not records:
        raise ValueError(f"{args.annotations}: no photos in the {args.split} split")
    captioner = load_captioner(args.model or [DEFAULTS["captioner"]], args.device, guide_settings(args))
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


def run_plot(args: argparse.Namespace) -> int:
    from .curves import plot_runs
    from .outputs import check_output, write_atomically

    if args.out.suffix.lower() != ".png":
        raise ValueError(f"--out must name a .png file, got {str(args.out)!r}")
    check_output(
        args.out,
        "--out",
        [p for run in args.runs for p in ([run] if run.is_file() else run.rglob("*.csv"))],
        args.overwrite,
    )
    print(
        plot_runs(args.runs, args.out, args.metric, args.label, write=lambda path, save: write_atomically(path, save))
    )
    return 0


def run_judge(args: argparse.Namespace) -> int:
    from .inference import Drawer, Judge, judge_drawer
    from .resources import check_device, check_int

    check_int("--num", args.num), check_int("--seed", args.seed, low=0, high=2**63 - 1)
    check_device("--device", args.device)
    drawer, judge = Drawer.from_checkpoint(args.drawer, map_location=args.device), Judge.from_checkpoint(args.judge)
    for split in args.split:
        print(judge_drawer(drawer, judge, split, args.num, seed=args.seed).summary(), flush=True)
    return 0


def run_classify(args: argparse.Namespace) -> int:
    from .inference import Classifier
    from .outputs import check_output, write_atomically
    from .viz import token_weights_html

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


def run_translate(args: argparse.Namespace) -> int:
    from .inference import Translator
    from .outputs import check_outputs, write_atomically
    from .resources import check_int
    from .viz import alignment_image

    check_int("--beam-size", args.beam_size, high=1000)
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


def run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo as demo
    from .resources import check_int

    check_int("--caption-steps", args.caption_steps), check_int("--draw-steps", args.draw_steps)
    check_int("--seed", args.seed, low=0)

    demo(args.out, DemoSettings(caption_steps=args.caption_steps, draw_steps=args.draw_steps, seed=args.seed))
    return 0


def run_seeds(args: argparse.Namespace) -> int:
    import statistics

    from .lightning_cli import run
    from .resources import check_int

    check_int("--seeds", args.seeds)
    if not args.config.is_file():
        raise FileNotFoundError(f"{args.config}: no such config")
    values = []
    for seed in range(args.seeds):
        cli = run(
            [
                "fit",
                "--config",
                str(args.config),
                "--seed_everything",
                str(seed),
                "--trainer.default_root_dir",
                str(args.root / args.config.stem / f"seed{seed}"),
                "--trainer.enable_progress_bar",
                "false",
                "--trainer.enable_model_summary",
                "false",
                *[flag for flag in args.overrides if flag != "--"],
            ]
        )
        metrics = cli.trainer.callback_metrics
        if args.metric not in metrics:
            raise KeyError(f"{args.metric} was not logged; logged: {', '.join(sorted(metrics))}")
        values.append(float(metrics[args.metric]))
        print(f"seed {seed}: {args.metric} = {values[-1]:.4f}", flush=True)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    print(
        f"{args.config.stem}: {args.metric} mean {statistics.mean(values):.4f} std {spread:.4f} "
        f"over {len(values)} seeds"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    keep_freed_memory()  # training and batched captioning vary their shapes from batch to batch
    argv = list(sys.argv[1:] if argv is None else argv)
    options = argv[: argv.index("--")] if "--" in argv else argv  # after "--" every word is an input
    debug = "--debug" in options
    if debug:
        argv.remove("--debug")
    try:
        if argv and argv[0] in LIGHTNING_COMMANDS:
            return run_lightning(argv)
        if argv and argv[0] == "predict":
            raise ValueError(NOT_PREDICT)
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command == "caption":
            return run_caption(args)
        if args.command == "draw":
            return run_draw(args)
        commands = {
            "export": run_export,
            "score": run_score,
            "plot": run_plot,
            "judge": run_judge,
            "classify": run_classify,
            "translate": run_translate,
            "seeds": run_seeds,
            "demo": run_demo,
        }
        if args.command in commands:
            return commands[args.command](args)
        parser.print_help()
        return 0
    except USER_ERRORS as err:
        if debug:
            raise
        message = str(err).strip() or type(err).__name__  # whole: a list of missing files keeps its names
        print(f"vision-attention: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
