"""The ``vision-attention`` command.

* ``fit``, ``validate``, ``test``: LightningCLI, e.g.
  ``vision-attention fit --config train/sat_soft_shapes.yaml``; the run's config is
  saved beside its checkpoints so it can be replayed.
* ``caption``: caption images with a trained checkpoint; ``--attention-dir`` writes a figure
  per image, ``--html`` one self-contained page of them all.
* ``draw``: draw images step by step with a trained DRAW checkpoint (an animated GIF);
  with an alignDRAW checkpoint, ``--caption`` says what to draw.
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
from .demo import DemoSettings

LIGHTNING_COMMANDS = ("fit", "validate", "test")
# What users of other Lightning tools reach for; each output kind has its own command here.
NOT_PREDICT = "there is no predict command: use caption, draw, classify or translate with --checkpoint"
USER_ERRORS = (FileNotFoundError, ValueError, KeyError, OSError)


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
    caption = commands.add_parser("caption", help="caption images with a trained captioner checkpoint")
    caption.add_argument("--checkpoint", required=True, type=Path, help="a captioner checkpoint (.ckpt)")
    caption.add_argument("--beam-size", type=int, default=5, help="beam width (default 5)")
    caption.add_argument("--max-len", type=int, default=30, help="longest caption in words (default 30)")
    caption.add_argument("--attention-dir", type=Path, help="write one PNG per image with a heatmap per word")
    caption.add_argument("--html", type=Path, help="write one self-contained page: each image, its caption and "
                         "its attention per word")
    caption.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    caption.add_argument("images", nargs="+", type=Path, help="image files")
    draw = commands.add_parser("draw", help="draw images step by step with a trained DRAW or alignDRAW checkpoint")
    draw.add_argument("--checkpoint", required=True, type=Path, help="a DRAW or alignDRAW checkpoint (.ckpt)")
    draw.add_argument("--caption", help="what to draw (alignDRAW checkpoints); the GIF shows the words attended")
    draw.add_argument("--num", type=int, default=16, help="images to draw (default 16)")
    draw.add_argument("--out", type=Path, default=Path("draw.gif"), help="the animated GIF to write")
    draw.add_argument("--strip", type=Path, help="also write a PNG strip of selected steps")
    draw.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    draw.add_argument("--frame-ms", type=int, default=80, help="time per frame in ms (default 80)")
    draw.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    judge = commands.add_parser("judge", help="score an alignDRAW model: does a judge read its images as their captions say?")
    judge.add_argument("--drawer", required=True, type=Path, help="an alignDRAW checkpoint (.ckpt)")
    judge.add_argument("--judge", required=True, type=Path, help="a judge checkpoint (train/judge_*.yaml)")
    judge.add_argument("--split", nargs="+", default=["test", "compositional"], help="splits (default: test compositional)")
    judge.add_argument("--num", type=int, default=500, help="captions per split (default 500)")
    judge.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    judge.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    classify = commands.add_parser("classify", help="classify sentences with a trained text classifier")
    classify.add_argument("--checkpoint", required=True, type=Path, help="a classifier checkpoint (.ckpt)")
    classify.add_argument("--html", type=Path, help="write the sentences with each word lit by its attention")
    classify.add_argument("sentences", nargs="+", help="sentences to classify")
    translate = commands.add_parser("translate", help="translate (e.g. dates) with a trained seq2seq checkpoint")
    translate.add_argument("--checkpoint", required=True, type=Path, help="a seq2seq checkpoint (.ckpt)")
    translate.add_argument("--beam-size", type=int, default=1, help="beam width (default 1: greedy)")
    translate.add_argument("--alignment-dir", type=Path, help="write one source x target attention PNG per input")
    translate.add_argument("sources", nargs="+", help="inputs, e.g. 'saturday 9 may 2018'")
    demo = commands.add_parser("demo", help="train on generated data (fixed steps) and write runs/demo/index.html")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default runs/demo)")
    settings = DemoSettings()
    demo.add_argument("--caption-steps", type=int, default=settings.caption_steps,
                      help=f"captioner training steps (default {settings.caption_steps})")
    demo.add_argument("--draw-steps", type=int, default=settings.draw_steps,
                      help=f"DRAW training steps (default {settings.draw_steps})")
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


def figure_paths(folder: Path, images: list[Path]) -> list[Path]:
    """One attention figure per image, ``<file name>.attention.png`` in ``folder``: named after
    the whole file name (``a.png`` and ``a.jpg`` differ), numbered when two inputs share a
    name, and never the path of an input, so no input and no other figure is overwritten."""
    inputs = {p.resolve() for p in images}
    taken: set[Path] = set()
    paths = []
    for image in images:
        candidate, n = folder / f"{image.name}.attention.png", 1
        while candidate.resolve() in taken or candidate.resolve() in inputs:
            n += 1
            candidate = folder / f"{image.name}.attention-{n}.png"
        taken.add(candidate.resolve())
        paths.append(candidate)
    return paths


def run_caption(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from .inference import Captioner
    from .data.images import BadImageError, load_rgb
    from .resources import check_int
    from .viz import caption_page, caption_section, save_attention_figure, write_atomically

    check_int("--beam-size", args.beam_size), check_int("--max-len", args.max_len)
    if args.html is not None:
        if args.html.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"--html must name an .html file, got {str(args.html)!r}")
        if args.html.resolve() in {p.resolve() for p in args.images}:
            raise ValueError(f"--html {args.html} is one of the images: it would be overwritten")
    captioner = Captioner.from_checkpoint(args.checkpoint, map_location=args.device)
    figures = figure_paths(args.attention_dir, args.images) if args.attention_dir else [None] * len(args.images)
    failures, sections = 0, []
    for path, figure in tqdm(list(zip(args.images, figures)), desc="captioning", unit="image", disable=len(args.images) < 8, file=sys.stderr):
        try:
            image = load_rgb(path)
        except (BadImageError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            failures += 1
            continue
        result = captioner.caption(image, beam_size=args.beam_size, max_len=args.max_len)[0]
        print(f"{path}\t{result.text}", flush=True)
        if args.html is not None:
            sections.append(caption_section(path.name, image, result.tokens, result.alphas))
        if figure is not None:
            try:
                save_attention_figure(figure, image, result.tokens, result.alphas)
            except OSError as err:  # this figure is lost; the other images go on
                print(f"error: {figure}: cannot write the attention figure ({err.strerror or err})", file=sys.stderr)
                failures += 1
    if args.html is not None:
        page = caption_page(sections, title=f"Captions by {args.checkpoint.name}")
        print(write_atomically(args.html, lambda tmp: tmp.write_text(page, encoding="utf-8")), file=sys.stderr)
    return 1 if failures else 0


def run_draw(args: argparse.Namespace) -> int:
    from .inference import Drawer
    from .resources import check_int, require_memory
    from .viz import drawing_gif, drawing_strip

    check_int("--num", args.num), check_int("--seed", args.seed, low=0), check_int("--frame-ms", args.frame_ms, low=10)
    if args.out.suffix.lower() != ".gif":
        raise ValueError(f"--out must name a .gif file (the animation), got {str(args.out)!r}")
    if args.strip is not None and args.strip.suffix.lower() != ".png":
        raise ValueError(f"--strip must name a .png file, got {str(args.strip)!r}")
    drawer = Drawer.from_checkpoint(args.checkpoint, map_location=args.device)
    require_memory(drawer.bytes_per_image(gif_scale=3), args.num, "cpu", f"--num {args.num} with its GIF")
    drawing = drawer.sample(args.num, seed=args.seed, caption=args.caption)
    print(drawing_gif(drawing, args.out, duration_ms=args.frame_ms))
    if args.strip:
        print(drawing_strip(drawing, args.strip))
    return 0


def run_judge(args: argparse.Namespace) -> int:
    from .inference import Drawer
    from .inference import Judge, judge_drawer
    from .resources import check_int

    check_int("--num", args.num), check_int("--seed", args.seed, low=0)
    drawer, judge = Drawer.from_checkpoint(args.drawer, map_location=args.device), Judge.from_checkpoint(args.judge)
    for split in args.split:
        print(judge_drawer(drawer, judge, split, args.num, seed=args.seed).summary(), flush=True)
    return 0


def run_classify(args: argparse.Namespace) -> int:
    from .inference import Classifier
    from .viz import token_weights_html, write_atomically

    results = Classifier.from_checkpoint(args.checkpoint).classify(args.sentences)
    parts = []
    for sentence, result in zip(args.sentences, results):
        print(f"{result.label}\t{result.probability:.3f}\t{sentence}")
        if result.weights is not None:
            parts.append(token_weights_html(result.tokens, result.weights, f"label {result.label} ({result.probability:.0%})"))
    if args.html:
        page = "<!doctype html><meta charset=utf-8><body>" + "\n".join(parts) + "</body>\n"
        print(write_atomically(args.html, lambda tmp: tmp.write_text(page, encoding="utf-8")))
    return 0


def run_translate(args: argparse.Namespace) -> int:
    from .inference import Translator
    from .resources import check_int
    from .viz import alignment_image

    check_int("--beam-size", args.beam_size, high=1000)
    translations = Translator.from_checkpoint(args.checkpoint).translate(args.sources, beam_size=args.beam_size)
    for i, (source, result) in enumerate(zip(args.sources, translations)):
        print(f"{source}\t{result.text}")
        if args.alignment_dir:
            args.alignment_dir.mkdir(parents=True, exist_ok=True)
            alignment_image(result.source, result.target, result.alignment).save(args.alignment_dir / f"alignment_{i}.png")
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
        cli = run(["fit", "--config", str(args.config), "--seed_everything", str(seed),
                   "--trainer.default_root_dir", str(args.root / args.config.stem / f"seed{seed}"),
                   "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
                   *[flag for flag in args.overrides if flag != "--"]])
        metrics = cli.trainer.callback_metrics
        if args.metric not in metrics:
            raise KeyError(f"{args.metric} was not logged; logged: {', '.join(sorted(metrics))}")
        values.append(float(metrics[args.metric]))
        print(f"seed {seed}: {args.metric} = {values[-1]:.4f}", flush=True)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    print(f"{args.config.stem}: {args.metric} mean {statistics.mean(values):.4f} std {spread:.4f} over {len(values)} seeds")
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
        if argv and argv[0] == "predict":
            raise ValueError(NOT_PREDICT)
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command == "caption":
            return run_caption(args)
        if args.command == "draw":
            return run_draw(args)
        commands = {"judge": run_judge, "classify": run_classify, "translate": run_translate, "seeds": run_seeds, "demo": run_demo}
        if args.command in commands:
            return commands[args.command](args)
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
