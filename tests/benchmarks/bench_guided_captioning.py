"""Guided captioning against plain captioning, in the same run, on the photos users give it:
photos per second of ``Captioner.caption`` with the shipped captioner (photos decoded from disk
beforehand, batches of 32, beam 3), guided and not, and where the guided time goes: the
backbone's ImageNet head, turning its probabilities into constraints, and the constrained search
against plain beam search on the same features. The goal: guided at least 0.8x the unguided rate.

Photos: 96 of the ImageNet samples (every tenth class: most get a constraint) and 96 Flickr8k dev
photos (about half do), from ``$VISION_ATTENTION_DATA``; generated JPEGs when it is unset.

Run: `make bench` (or `.venv/bin/python tests/benchmarks/bench_guided_captioning.py`).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from timing import print_table

from vision_attention.data.image_decoding import load_rgb
from vision_attention.inference import Captioner
from vision_attention.models.constrained_decoding import constrained_beam_search
from vision_attention.models.decoding import beam_search

N = 96


def photo_sets(folder: Path) -> dict[str, list[Path]]:
    root = os.environ.get("VISION_ATTENTION_DATA")
    sets = {}
    if root and (Path(root) / "imagenet_samples" / "images").is_dir():
        sets["ImageNet samples"] = sorted((Path(root) / "imagenet_samples" / "images").glob("*.JPEG"))[::10][:N]
    dev = Path(root) / "flickr8k" / "Flickr_8k.devImages.txt" if root else None
    if dev is not None and dev.is_file():
        names = [n.strip() for n in dev.read_text().split("\n") if n.strip()][:N]
        sets["Flickr8k dev"] = [dev.parent / "images" / n for n in names]
    if not sets:
        rng = np.random.default_rng(0)
        paths = []
        for i in range(N):
            small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            paths.append(folder / f"photo{i}.jpg")
            Image.fromarray(small).resize((224, 224), Image.BICUBIC).save(paths[-1], quality=90)
        sets["generated"] = paths
    return sets


def timed(fn, *args, **kwargs) -> tuple[object, float]:
    """(what ``fn`` returns, the seconds it took)."""
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def best_of_alternating(captioner: Captioner, images: list, rounds: int = 3) -> tuple[float, float]:
    """Best seconds of guided and of plain captioning, run alternately so that a slow spell hits both."""
    guided, plain = [], []
    for _ in range(rounds):
        guided.append(timed(captioner.caption, images)[1])
        plain.append(timed(captioner.caption, images, guide=False)[1])
    return min(guided), min(plain)


def parts(captioner: Captioner, images: list) -> dict[str, float]:
    """Seconds of the guided path's pieces over ``images``, batches of 32."""
    totals = {"ImageNet head": 0.0, "constraints (plan)": 0.0, "constrained search": 0.0, "plain search": 0.0}
    with torch.no_grad():
        for start in range(0, len(images), 32):
            chunk = images[start : start + 32]
            batch = torch.stack([captioner.to_tensor(im) for im in chunk]).to(memory_format=torch.channels_last)
            features, trunk = captioner.model.encoder.with_trunk(batch)
            logits, spent = timed(captioner.head, trunk)
            totals["ImageNet head"] += spent
            (constraints, banned, _), spent = timed(
                captioner.guide.plan, torch.softmax(logits, -1), len(captioner.vocab)
            )
            totals["constraints (plan)"] += spent
            totals["constrained search"] += timed(
                constrained_beam_search, captioner.model, features, constraints, banned, 3
            )[1]
            totals["plain search"] += timed(beam_search, captioner.model, features, 3)[1]
    return totals


def main() -> None:
    captioner = Captioner.from_pretrained()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, paths in photo_sets(Path(tmp)).items():
            images = [load_rgb(p) for p in paths]
            captioner.caption(images[:8])  # first-call costs
            guided, plain = best_of_alternating(captioner, images)
            rows.append([name, "plain caption()", f"{len(images) / plain:.1f}", "1.00"])
            rows.append([name, "guided caption()", f"{len(images) / guided:.1f}", f"{plain / guided:.2f}"])
            for part, spent in parts(captioner, images).items():
                rows.append([name, f"  of which: {part}", f"{spent / len(images) * 1e3:.1f} ms/photo", ""])
    print_table(
        f"guided captioning, shipped model, beam 3, batches of 32, {torch.get_num_threads()} threads",
        ["photos", "what", "photos/s", "ratio to plain"],
        rows,
    )


if __name__ == "__main__":
    main()
