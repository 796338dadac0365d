"""Argument checks done before any work: numbers in range, and memory an operation would
need compared with what the device has free, so a request too large for the machine is
one clear line instead of a swap storm or the kernel's OOM killer."""

from __future__ import annotations

import math

import torch


def check_int(name: str, value, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int in [low, high], else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bounds = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return value


def check_number(name: str, value, low: float = 0.0) -> float:
    """``value`` as a finite float >= low, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < low:
        raise ValueError(f"{name} must be a finite number >= {low:g}, got {value!r}")
    return float(value)


def check_device(name: str, value: str) -> torch.device:
    """``value`` as a device this machine has, else a ValueError naming ``name`` (checked before
    any model is loaded)."""
    try:
        device = torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{name} must be cpu or cuda (or cuda:N), got {value!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{name} {value}: no CUDA GPU is available here (use --device cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"{name} {value}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    elif device.type != "cpu":
        raise ValueError(f"{name} must be cpu or cuda (or cuda:N), got {value!r}")
    return device


def free_bytes(device: str | torch.device) -> int | None:
    """Memory free on ``device``: the GPU's free memory, or the kernel's MemAvailable
    (None where neither can be read)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def require_memory(per_unit: int, count: int, device: str | torch.device, what: str, share: float = 0.8) -> None:
    """Refuse ``what`` (``count`` units of ``per_unit`` bytes each) when it needs more than
    ``share`` of the memory free on ``device``; the message says how many units would fit."""
    free = free_bytes(device)
    needed = per_unit * count
    if free is not None and needed > share * free:
        fits = int(share * free // max(per_unit, 1))
        raise ValueError(
            f"{what} needs about {needed / 2**30:.1f} GiB, more than the {free / 2**30:.1f} GiB "
            f"free on {torch.device(device).type} (at most {fits} would fit)"
        )
