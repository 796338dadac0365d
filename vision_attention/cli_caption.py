"""``vision-attention caption``: photos in (files, folders, globs), captions out (lines, JSON,
JSON lines or CSV, :mod:`~vision_attention.caption_records`), in batches.

Photos are decoded in a thread beside the model (Pillow releases the GIL while decoding), at
most ``MAX_SIDE`` pixels on their longer side (the model reads 224), and captioned
``--batch-size`` at a time; a photo that cannot be read is reported on its own line on stderr
and the others go on, with exit status 1 at the end. Ctrl-C or SIGTERM stops the run after
writing the captions already made (exit status 130 or 143); ``--resume`` continues into the
same ``--output``, skipping the photos it holds.
"""

from __future__ import annotations

import argparse
import glob
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .caption_records import FIELDS, CaptionWriter, read_records
from .inference.guidance import GuideSettings

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
MAX_SIDE = 2048  # photos are decoded at most this large: the model reads 224, the pages 360


class Interrupted(Exception):
    """SIGTERM during a run, as KeyboardInterrupt is SIGINT."""


def add_arguments(parser: argparse.ArgumentParser, default_model: str) -> None:
    parser.add_argument(
        "--model",
        action="append",
        help=f"a shipped model's name, a model folder, a checkpoint (.ckpt) "
        f"or a Hub id (default {default_model}); twice or more: their ensemble",
    )
    parser.add_argument("--checkpoint", type=Path, help="a captioner checkpoint (.ckpt); the same as --model")
    parser.add_argument("--beam-size", type=int, default=3, help="beam width (default 3, as the shipped figures)")
    parser.add_argument("--max-len", type=int, default=30, help="longest caption in words (default 30)")
    parser.add_argument("--batch-size", type=int, default=32, help="photos captioned at once (default 32)")
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
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("images", nargs="+", help="image files, folders of images, or glob patterns ('photos/*.jpg')")
    parser.set_defaults(format="lines")


def add_guide_arguments(parser: argparse.ArgumentParser) -> None:
    guide = parser.add_argument_group(
        "guided captioning (the backbone's ImageNet classifier asks for the words it sees)"
    )
    guide.add_argument("--no-guide", dest="guide", action="store_false", help="plain beam search, no constraints")
    guide.add_argument(
        "--guide-at",
        type=float,
        default=GuideSettings.constrain_at,
        metavar="P",
        help=f"evidence a word needs to be asked for (default {GuideSettings.constrain_at})",
    )
    guide.add_argument(
        "--guide-ban-below",
        type=float,
        default=GuideSettings.suppress_below,
        metavar="P",
        help=f"animal words with less evidence are ruled out (default {GuideSettings.suppress_below})",
    )


def expand_inputs(
    specs: list[str], recursive: bool = False, skipped: dict[str, int] | None = None
) -> tuple[list[Path], list[str]]:
    """(the image files, in order and each once; one problem line per spec that names none).
    A folder gives its image files (by suffix, sorted; subfolders with ``recursive``), a
    pattern its matching files; a file is taken as it is, and a missing one is a problem.
    ``skipped`` counts, by suffix, the files of folders left out for not being images."""
    paths: list[Path] = []
    problems: list[str] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            files = [p for p in (path.rglob("*") if recursive else path.iterdir()) if p.is_file()]
            found = sorted(p for p in files if p.suffix.lower() in IMAGE_SUFFIXES)
            if skipped is not None:
                for p in files:
                    if p.suffix.lower() not in IMAGE_SUFFIXES:
                        skipped[p.suffix.lower() or "(no suffix)"] = (
                            skipped.get(p.suffix.lower() or "(no suffix)", 0) + 1
                        )
            if not found:
                problems.append(
                    f"{path}: no image files in this folder"
                    + ("" if recursive else " (--recursive looks in subfolders)")
                )
        elif path.is_file():
            found = [path]
        elif glob.has_magic(spec):
            found = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
            if not found:
                problems.append(f"{spec}: no file matches this pattern")
        else:
            found = []
            problems.append(f"{path}: no such image file")
        paths += found
    seen: set[Path] = set()
    unique = []
    for p in paths:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique, problems


def _load(path: Path):
    from .data.image_decoding import BadImageError, load_rgb

    try:
        return load_rgb(path, max_side=MAX_SIDE), None
    except (BadImageError, FileNotFoundError, OSError) as err:
        return None, str(err)


def _batches(paths: list[Path], size: int):
    """(paths, [(image or None, error or None)]) per batch; the next batch decodes meanwhile."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
        pending = pool.submit(lambda c: [_load(p) for p in c], chunks[0]) if chunks else None
        for i, chunk in enumerate(chunks):
            loaded = pending.result()
            if i + 1 < len(chunks):
                pending = pool.submit(lambda c: [_load(p) for p in c], chunks[i + 1])
            yield chunk, loaded


def load_captioner(models: list[str], device: str, guide: bool | GuideSettings = True):
    """One captioner, or with several models their ensemble."""
    from .inference import Captioner, CaptionerEnsemble

    if len(models) == 1:
        return Captioner.from_pretrained(models[0], map_location=device, guide=guide)
    return CaptionerEnsemble.from_pretrained(models, map_location=device, guide=guide)


def guide_settings(args: argparse.Namespace) -> bool | GuideSettings:
    """False for --no-guide; the thresholds given (a default guide where the backbone allows)."""
    if not args.guide:
        return False
    settings = GuideSettings(args.guide_at, args.guide_ban_below)
    return True if settings == GuideSettings() else settings


def guidance_fields(guidance) -> dict:
    """The record's constraint columns: words, evidence and met, ';'-separated (CSV), and the
    whole guidance (JSON)."""
    if guidance is None:
        return {"constraints": "", "evidence": "", "met": ""}
    constraints = guidance.constraints
    return {
        "constraints": ";".join(c.word for c in constraints),
        "evidence": ";".join(f"{c.evidence:.4f}" for c in constraints),
        "met": ";".join("yes" if c.met else "no" for c in constraints),
    }


def run_caption(args: argparse.Namespace, default_model: str) -> int:
    from .outputs import check_output, check_outputs, figure_paths
    from .resources import check_device, check_int

    (
        check_int("--beam-size", args.beam_size),
        check_int("--max-len", args.max_len),
        check_int("--batch-size", args.batch_size),
    )
    check_device("--device", args.device)
    if args.model is not None and args.checkpoint is not None:
        raise ValueError("give --model or --checkpoint, not both")
    if args.resume and args.output is None:
        raise ValueError("--resume continues an --output file: name it")
    models = [str(args.checkpoint)] if args.checkpoint is not None else args.model or [default_model]
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


class CaptionRun:
    """One ``caption`` command's photos through the captioner into its outputs; stopped by
    Ctrl-C or SIGTERM, it still writes what it has."""

    def __init__(self, args: argparse.Namespace, captioner, writer: CaptionWriter, figures: dict) -> None:
        self.args, self.captioner, self.writer, self.figures = args, captioner, writer, figures
        self.sections: list[str] = []
        self.failures = 0

    def over(self, paths: list[Path]) -> int:
        from tqdm.auto import tqdm

        def stop(signum, frame):
            raise Interrupted

        previous = signal.signal(signal.SIGTERM, stop) if _main_thread() else None
        status = None
        try:
            with tqdm(
                total=len(paths), desc="captioning", unit="photo", disable=len(paths) < 8, file=sys.stderr
            ) as bar:
                for chunk, loaded in _batches(paths, self.args.batch_size):
                    self.batch(chunk, loaded, bar)
                    bar.update(len(chunk))
        except KeyboardInterrupt:
            status = 130
        except Interrupted:
            status = 143
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        self.finish()
        if status is not None:
            where = f" to {self.args.output}" if self.args.output is not None else ""
            more = " (--resume continues)" if self.args.output is not None else ""
            print(
                f"interrupted: wrote the captions of {self.writer.added} of {len(paths)} photos{where}{more}",
                file=sys.stderr,
            )
            return status
        return 1 if self.failures else 0

    def batch(self, chunk: list[Path], loaded: list, bar) -> None:
        from .viz import save_attention_figure

        args = self.args
        good = [(p, image) for p, (image, error) in zip(chunk, loaded) if image is not None]
        for error in (e for _, e in loaded if e is not None):
            bar.write(f"error: {error}", file=sys.stderr)
            self.failures += 1
        if not good:
            return
        results = self.captioner.caption(
            [image for _, image in good],
            beam_size=args.beam_size,
            max_len=args.max_len,
            batch_size=args.batch_size,
            guide=args.guide,
        )
        for (path, image), result in zip(good, results):
            self.writer.add(self.record(path, result))
            if args.html is not None:
                from .viz import caption_section

                guidance = None if result.guidance is None else result.guidance.as_dict()
                self.sections.append(caption_section(path.name, image, result.tokens, result.alphas, guidance=guidance))
            figure = self.figures.get(path)
            if figure is not None:
                try:
                    save_attention_figure(figure, image, result.tokens, result.alphas)
                except OSError as err:  # this figure is lost; the other images go on
                    bar.write(
                        f"error: {figure}: cannot write the attention figure ({err.strerror or err})", file=sys.stderr
                    )
                    self.failures += 1

    def record(self, path: Path, result) -> dict:
        record = {
            "image": str(path),
            "caption": result.text,
            "score": round(result.score, 4),
            "model": self.captioner.name,
            "beam_size": self.args.beam_size,
        }
        if self.args.format == "csv":
            record.update(guidance_fields(result.guidance))
        elif self.args.format in ("json", "jsonl"):
            record["guidance"] = None if result.guidance is None else result.guidance.as_dict()
        return record

    def finish(self) -> None:
        from .outputs import write_atomically
        from .viz import caption_page

        written = self.writer.close()
        if written is not None:
            print(written, file=sys.stderr)
        if self.args.html is not None:
            page = caption_page(self.sections, title=f"Captions by {Path(self.captioner.name).name}")
            print(
                write_atomically(
                    self.args.html, lambda tmp: Path(tmp).write_text(page, encoding="utf-8", errors="surrogateescape")
                ),
                file=sys.stderr,
            )


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
