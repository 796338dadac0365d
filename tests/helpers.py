"""Checks shared by the tests."""

from __future__ import annotations

import torch
from torch import nn


def assert_every_parameter_gets_gradient(module: nn.Module, loss: torch.Tensor) -> None:
    """Backpropagate ``loss`` and require a finite, non-zero gradient on every parameter."""
    module.zero_grad(set_to_none=True)
    loss.backward()
    for name, param in module.named_parameters():
        assert param.grad is not None, f"{name} received no gradient"
        assert torch.isfinite(param.grad).all(), f"{name} has a non-finite gradient"
        assert param.grad.abs().sum() > 0, f"{name} has an all-zero gradient"


def assert_weights_are_distribution(weights: torch.Tensor, mask: torch.Tensor | None = None) -> None:
    """Weights sum to 1 over attendable positions and are exactly 0 elsewhere."""
    if mask is not None:
        mask = mask.expand_as(weights)
        assert (weights[~mask] == 0).all(), "a masked position has non-zero weight"
    sums = weights.sum(-1)
    torch.testing.assert_close(sums, torch.ones_like(sums))


_WITH_4_GIB_FREE = """
import sys
from vision_attention import resources
resources.free_bytes = lambda device: 4 * 2**30  # as on a machine with 4 GiB free
from vision_attention.cli import main
status = main(sys.argv[1:])
# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's peak (Linux keeps it
# across fork and exec), so a large test process would count against a small child
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(status, peak_kib)
"""


def cli_with_4_gib_free(argv: list[str]) -> tuple[int, int, str]:
    """(exit status, peak RSS in KiB, stderr) of ``vision-attention ARGV`` in a fresh process
    that sees 4 GiB of memory free, whatever the machine has."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", _WITH_4_GIB_FREE, *argv], capture_output=True, text=True, timeout=120)
    status, peak_kib = map(int, run.stdout.split()[-2:])
    return status, peak_kib, run.stderr


def small_filesystem(path, size: str = "256k"):
    """A context manager: a tmpfs of ``size`` mounted at ``path`` (a real full disk for ENOSPC,
    remountable read-only), or pytest.skip where mounting is not allowed (not root)."""
    import contextlib
    import subprocess

    import pytest

    @contextlib.contextmanager
    def mounted():
        path.mkdir(parents=True, exist_ok=True)
        made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
        if made.returncode != 0:
            pytest.skip(f"cannot mount a small filesystem here ({made.stderr.decode().strip() or 'not root'})")
        try:
            yield path
        finally:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)

    return mounted()


def remount_read_only(path) -> None:
    import subprocess

    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)


def write_photo(path) -> None:
    """A photo-like JPEG standing in for a user's photo: a sky over a lawn, a dark shape."""
    import numpy as np
    from PIL import Image

    scene = np.zeros((240, 320, 3), np.uint8)
    scene[:120], scene[120:], scene[100:170, 130:200] = (110, 160, 220), (60, 140, 50), (40, 30, 20)
    Image.fromarray(scene).save(path, quality=90)


def refused_in_one_line(argv: list[str], capsys, *expected: str) -> str:
    """Run ``vision-attention ARGV``: it must end with exit status 2 and one stderr line, no
    traceback, holding each of ``expected``; returns that line."""
    from vision_attention.cli import main

    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in err, err
    return err
