"""Training on real caption lengths: a step whose shapes change every batch against the
same step at one fixed shape.

Show, Attend and Tell at the Flickr8k sizes of ``train/sat_soft_flickr8k.yaml`` (B 32,
EfficientNet-Lite0 features L 49 x D 1280, dims 512, V 2540), teacher forcing, one Adam
step. "varying": each batch padded to its longest caption, lengths drawn as Flickr8k's
(from ``$VISION_ATTENTION_DATA/flickr8k/captions.txt`` when set, else from a fitted
distribution); "fixed": one of those batches (of median padded length) every time, so
both do the same work per step on average. The package keeps freed memory in the process
(``vision_attention.allocator``, set here as the CLI and the DataModules set it); the last
row runs the varying loop in a child process with that switched off, to show what it buys.
The goal is a ratio varying / fixed <= 1.2.

Run: `make bench` (or `.venv/bin/python tests/benchmarks/bench_caption_lengths.py`).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import torch
from timing import print_table

from vision_attention.allocator import keep_freed_memory
from vision_attention.models import ShowAttendTell, caption_loss

keep_freed_memory()  # as the CLI and the DataModules do before training allocates

B, L, D, E, H, A, V = 32, 49, 1280, 512, 512, 512, 2540
STEPS = 40


def caption_lengths() -> list[int]:
    """Words per caption, as Flickr8k has them (+2 for <start> and <end>)."""
    root = os.environ.get("VISION_ATTENTION_DATA")
    path = Path(root) / "flickr8k" / "captions.txt" if root else None
    if path is not None and path.is_file():
        rows = path.read_text(encoding="utf-8").split("\n")[1:]
        return [len(r.partition(",")[2].split()) + 2 for r in rows if r.strip()]
    rng = random.Random(0)  # Flickr8k: mean 11.8 words, sd 3.9, 1 to 38
    return [min(max(round(rng.gauss(11.8, 3.9)), 1), 38) + 2 for _ in range(40000)]


def batches(lengths: list[int], steps: int, seed: int = 0) -> list[torch.Tensor]:
    """(B,) caption lengths of each batch, drawn as the data has them."""
    rng = random.Random(seed)
    return [torch.tensor([rng.choice(lengths) for _ in range(B)]) for _ in range(steps)]


def run(lengths_per_batch: list[torch.Tensor]) -> float:
    """Mean ms of a training step over the batches (after 5 warm-up steps)."""
    torch.manual_seed(0)
    model = ShowAttendTell(V, feature_dim=D, embed_dim=E, hidden_dim=H, attn_dim=A)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    features = torch.randn(B, L, D)
    times = []
    for i, lengths in enumerate(lengths_per_batch):
        captions = torch.randint(4, V, (B, int(lengths.max())))  # (B, T)
        start = time.perf_counter()
        out = model(features, captions, lengths=lengths)
        loss = caption_loss(out.logits, captions[:, 1:], out.alphas, lengths)[0]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= 5:
            times.append((time.perf_counter() - start) * 1e3)
    return sum(times) / len(times)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--varying-only":
        print(run(batches(caption_lengths(), STEPS)))
        return
    varying = batches(caption_lengths(), STEPS)
    median = sorted(varying, key=lambda b: (int(b.max()), int(b.sum())))[len(varying) // 2]
    fixed, fixed_length = [median] * STEPS, int(median.max())
    fixed_ms, varying_ms = run(fixed), run(varying)
    fixed_ms, varying_ms = min(fixed_ms, run(fixed)), min(varying_ms, run(varying))  # alternate: a slow spell hits both
    env = {**os.environ, "VISION_ATTENTION_MALLOPT": "0"}
    child = subprocess.run(
        [sys.executable, __file__, "--varying-only"], env=env, capture_output=True, text=True, check=True
    )
    unkept_ms = float(child.stdout.strip().splitlines()[-1])
    print_table(
        f"SAT training step on Flickr8k caption lengths (B {B}, L {L}, D {D}, V {V}; fixed T = {fixed_length})",
        ["loop", "ms / step", "ratio to fixed"],
        [
            ["fixed shape", f"{fixed_ms:.0f}", "1.00"],
            ["varying lengths", f"{varying_ms:.0f}", f"{varying_ms / fixed_ms:.2f}  (goal <= 1.2)"],
            ["varying, freed memory returned to the kernel", f"{unkept_ms:.0f}", f"{unkept_ms / fixed_ms:.2f}"],
        ],
    )


if __name__ == "__main__":
    main()
