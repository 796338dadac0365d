"""The fused engines: the models' own loops rewritten for speed, one file per model.

Each model's ``forward`` is its paper's loop, one module at a time; when the engines are on
(the default) it hands the same pass to its engine here, which computes the same maths with
the products of each hidden state fused into one matmul, the LSTM gates written out, and
(Show, Attend and Tell) the additive attention's backward written by hand. Their parity
with the plain loops, values and gradients, is what their tests hold.

Turn them off to debug or to read a pass step by step, as timm's ``use_fused_attn``:
``set_fused(False)``, ``with fused_off(): ...``, or ``VISION_ATTENTION_FUSED=0`` in the
environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

_enabled = os.environ.get("VISION_ATTENTION_FUSED", "1") != "0"


def use_fused() -> bool:
    """Whether the models' forward passes run their fused engines."""
    return _enabled


def set_fused(enabled: bool) -> None:
    """Turn the fused engines on or off for every model of the process."""
    global _enabled
    _enabled = bool(enabled)


@contextmanager
def fused_off() -> Iterator[None]:
    """Run the block on the models' plain reference loops."""
    before = _enabled
    set_fused(False)
    try:
        yield
    finally:
        set_fused(before)
