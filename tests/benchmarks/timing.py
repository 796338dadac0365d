"""Timing helpers for the benchmark scripts (run by `make bench`, never by `make test`)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def median_ms(fn: Callable[[], object], repeat: int = 20, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def compare_ms(
    fn: Callable[[], object], reference: Callable[[], object], rounds: int = 3, repeat: int = 10
) -> tuple[float, float]:
    """Best-of-rounds median times of ``fn`` and ``reference``, measured alternately
    so that a slow spell of the machine hits both."""
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(median_ms(fn, repeat))
        theirs.append(median_ms(reference, repeat))
    return min(ours), min(theirs)


def forward_backward(module: torch.nn.Module, *inputs, **kwargs) -> Callable[[], None]:
    """A closure running one forward and backward pass of ``module`` on ``inputs``."""

    def step() -> None:
        module.zero_grad(set_to_none=True)
        out = module(*inputs, **kwargs)
        out = out[0] if isinstance(out, tuple) else out
        out.sum().backward()

    return step


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(f"\n{title}\n" + line.format(*header) + "\n" + line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))
