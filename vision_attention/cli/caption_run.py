"""One ``caption`` command's photos through the captioner into its outputs (the records, the
page, the figures); stopped by Ctrl-C or SIGTERM, it still writes what it has (exit status 130 or
143) for ``--resume`` to finish."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from .caption_inputs import batches
from .caption_records import CaptionWriter


class Interrupted(Exception):
    """SIGTERM during a run, as KeyboardInterrupt is SIGINT."""


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

        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, stop) if main_thread else None
        status = None
        try:
            with tqdm(
                total=len(paths), desc="captioning", unit="photo", disable=len(paths) < 8, file=sys.stderr
            ) as bar:
                for chunk, loaded in batches(paths, self.args.batch_size):
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
        from ..viz import save_attention_figure

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
                from ..viz import caption_section

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
        from ..files.outputs import write_atomically
        from ..viz import caption_page

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
