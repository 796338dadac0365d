"""What a user of `vision-attention caption` waits for: photos per second with the shipped
captioner (JPEGs read from disk, batches of 32, beam 3, its encoder and decoding included),
beside the rate of the encoder's forward alone on the same photos, in the same run. The goal:
the CLI at least 0.6 of the CNN-alone rate (decoding costs less than the CNN).

The CLI's rate is marginal: the command is run on N and on 3N photos and the rate is
2N over the difference, so loading the model (a second or two, once per command) does
not count against it; that load is reported on its own. Photos: Flickr8k's dev photos
(224 x 224 JPEGs) from ``$VISION_ATTENTION_DATA``, else generated JPEGs of that size.

Run: `make bench` (or `.venv/bin/python tests/benchmarks/bench_caption_cli.py`).
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

from vision_attention.cli import main
from vision_attention.inference import Captioner

N = 96


def photos(folder: Path, count: int) -> list[Path]:
    root = os.environ.get("VISION_ATTENTION_DATA")
    dev = Path(root) / "flickr8k" / "Flickr_8k.devImages.txt" if root else None
    if dev is not None and dev.is_file():
        names = [n.strip() for n in dev.read_text().split("\n") if n.strip()][:count]
        return [dev.parent / "images" / n for n in names]
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):  # smooth random colour fields: JPEG sizes like a photo's
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        path = folder / f"photo{i}.jpg"
        Image.fromarray(small).resize((224, 224), Image.BICUBIC).save(path, quality=90)
        paths.append(path)
    return paths


def cli_seconds(paths: list[Path], out: Path) -> float:
    start = time.perf_counter()
    assert (
        main(
            [
                "caption",
                "--beam-size",
                "3",
                "--batch-size",
                "32",
                "--jsonl",
                "--output",
                str(out),
                "--overwrite",
                *map(str, paths),
            ]
        )
        == 0
    )
    return time.perf_counter() - start


def cnn_seconds(captioner: Captioner, paths: list[Path]) -> float:
    """The encoder alone over the photos, batches of 32, on tensors decoded beforehand."""
    tensors = [captioner.to_tensor(p) for p in paths]
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(tensors), 32):
            captioner.model.encode(torch.stack(tensors[i : i + 32]).to(memory_format=torch.channels_last))
    return time.perf_counter() - start


def main_bench() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = photos(folder, 3 * N)
        start = time.perf_counter()
        captioner = Captioner.from_pretrained()
        load = time.perf_counter() - start
        cli_seconds(paths[:8], folder / "warm.jsonl")  # first-call costs
        small, large = cli_seconds(paths[:N], folder / "a.jsonl"), cli_seconds(paths, folder / "b.jsonl")
        cli_rate = 2 * N / (large - small)
        cnn_rate = len(paths) / min(cnn_seconds(captioner, paths) for _ in range(2))
    encoder = captioner.model.config["encoder"]["name"]
    print_table(
        f"caption CLI, shipped sat-soft-flickr8k, beam 3, batches of 32, {torch.get_num_threads()} threads",
        ["what", "photos/s", "ratio to CNN alone"],
        [
            [f"{encoder} forward alone", f"{cnn_rate:.1f}", "1.00"],
            [
                f"vision-attention caption (read, {encoder}, beam search, write)",
                f"{cli_rate:.1f}",
                f"{cli_rate / cnn_rate:.2f}",
            ],
        ],
    )
    print(f"loading the shipped model: {load:.2f} s once per command (not in the rates)")


if __name__ == "__main__":
    main_bench()
