"""The one LSTM step that the models' hand-fused loops share (DRAW's encoder and decoder,
Show, Attend and Tell's teacher-forced pass, the classifier's recurrent dropout): they
compute the gate pre-activations themselves, fusing products of the same state into one
matmul, and hand them here.

Legend: B batch, H hidden size.
"""

from __future__ import annotations

import torch
from torch import Tensor


def lstm_update(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """One LSTM update from pre-activations (B, 4H) in ``nn.LSTMCell``'s (i, f, g, o) order
    and the previous cell (B, H): the new ``(h, c)``, as ``nn.LSTMCell`` computes them."""
    size = c.shape[1]
    i, f, _, o = torch.sigmoid(gates).chunk(4, dim=1)  # (B, H) each
    c = torch.addcmul(f * c, i, torch.tanh(gates[:, 2 * size : 3 * size]))  # (B, H)
    return o * torch.tanh(c), c
