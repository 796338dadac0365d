"""``vision-attention caption``: photos in (files, folders, globs), captions out (lines, JSON,
JSON lines or CSV), in batches.

Photos are decoded in a thread beside the model (Pillow releases the GIL while decoding)
and captioned ``--batch-size`` at a time; a photo that cannot be read is reported on its own
line on stderr and the others go on, with exit status 1 at the end.
"""

from __future__ import annotations

import argparse
import csv
import glob
import io
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .inference.guidance import GuideSettings

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
FORMATS = ("lines", "json", "jsonl", "csv")
FIELDS = ("image", "caption", "score", "model", "beam_size", "constraints", "evidence", "met")


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


def expand_inputs(specs: list[str], recursive: bool = False) -> tuple[list[Path], list[str]]:
    """(the image files, in order and each once; one problem line per spec that names none).
    A folder gives its image files (by suffix, sorted; subfolders with ``recursive``), a
    pattern its matching files; a file is taken as it is, and a missing one is a problem."""
    paths: list[Path] = []
    problems: list[str] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            found = sorted(
                p
                for p in (path.rglob("*") if recursive else path.iterdir())
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
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
        return load_rgb(path), None
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


class CaptionWriter:
    """Records out in one of ``FORMATS``: streamed to stdout, or gathered for ``--output``
    (written once, atomically, at the end)."""

    def __init__(self, fmt: str, output: Path | None) -> None:
        self.fmt, self.output, self.records = fmt, output, []
        self.buffer = io.StringIO() if output is not None else sys.stdout
        if fmt == "csv":
            self.csv = csv.DictWriter(self.buffer, fieldnames=FIELDS, lineterminator="\n")
            self.csv.writeheader()

    def add(self, record: dict) -> None:
        if self.fmt == "json":
            self.records.append(record)
        elif self.fmt == "jsonl":
            self.buffer.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            self.csv.writerow(record)
        else:
            self.buffer.write(f"{record['image']}\t{record['caption']}\n")
        if self.output is None:
            self.buffer.flush()

    def close(self) -> None:
        from .outputs import write_atomically

        if self.fmt == "json":
            self.buffer.write(json.dumps(self.records, ensure_ascii=False, indent=1) + "\n")
        if self.output is not None:
            text = self.buffer.getvalue()
            print(write_atomically(self.output, lambda tmp: tmp.write_text(text, encoding="utf-8")), file=sys.stderr)
        else:
            self.buffer.flush()


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
    from tqdm.auto import tqdm

    from .outputs import check_output, check_outputs, figure_paths, write_atomically
    from .resources import check_int
    from .viz import caption_page, caption_section, save_attention_figure

    (
        check_int("--beam-size", args.beam_size),
        check_int("--max-len", args.max_len),
        check_int("--batch-size", args.batch_size),
    )
    if args.model is not None and args.checkpoint is not None:
        raise ValueError("give --model or --checkpoint, not both")
    models = [str(args.checkpoint)] if args.checkpoint is not None else args.model or [default_model]
    paths, problems = expand_inputs(args.images, args.recursive)
    protected = [*paths, *(m for m in models if Path(m).exists())]
    if args.output is not None:
        check_output(args.output, "--output", protected, args.overwrite)
    if args.html is not None:
        if args.html.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"--html must name an .html file, got {str(args.html)!r}")
        check_output(args.html, "--html", protected, args.overwrite)
    figures = figure_paths(args.attention_dir, paths) if args.attention_dir else [None] * len(paths)
    if args.attention_dir:
        check_outputs([f for f in figures if not f.is_dir()], "--attention-dir figure", protected, args.overwrite)
    captioner = load_captioner(models, args.device, guide_settings(args))
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    failures = len(problems)
    figure_of = dict(zip(paths, figures))
    writer, sections = CaptionWriter(args.format, args.output), []
    with tqdm(total=len(paths), desc="captioning", unit="photo", disable=len(paths) < 8, file=sys.stderr) as bar:
        for chunk, loaded in _batches(paths, args.batch_size):
            good = [(p, image) for p, (image, error) in zip(chunk, loaded) if image is not None]
            for error in (e for _, e in loaded if e is not None):
                bar.write(f"error: {error}", file=sys.stderr)
                failures += 1
            results = (
                captioner.caption(
                    [image for _, image in good],
                    beam_size=args.beam_size,
                    max_len=args.max_len,
                    batch_size=args.batch_size,
                    guide=args.guide,
                )
                if good
                else []
            )
            for (path, image), result in zip(good, results):
                record = {
                    "image": str(path),
                    "caption": result.text,
                    "score": round(result.score, 4),
                    "model": captioner.name,
                    "beam_size": args.beam_size,
                }
                if args.format == "csv":
                    record.update(guidance_fields(result.guidance))
                elif args.format in ("json", "jsonl"):
                    record["guidance"] = None if result.guidance is None else result.guidance.as_dict()
                writer.add(record)
                if args.html is not None:
                    guidance = None if result.guidance is None else result.guidance.as_dict()
                    sections.append(caption_section(path.name, image, result.tokens, result.alphas, guidance=guidance))
                if figure_of[path] is not None:
                    try:
                        save_attention_figure(figure_of[path], image, result.tokens, result.alphas)
                    except OSError as err:  # this figure is lost; the other images go on
                        bar.write(
                            f"error: {figure_of[path]}: cannot write the attention figure ({err.strerror or err})",
                            file=sys.stderr,
                        )
                        failures += 1
            bar.update(len(chunk))
    writer.close()
    if args.html is not None:
        page = caption_page(sections, title=f"Captions by {Path(captioner.name).name}")
        print(write_atomically(args.html, lambda tmp: tmp.write_text(page, encoding="utf-8")), file=sys.stderr)
    return 1 if failures else 0
