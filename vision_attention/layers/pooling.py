"""Attention pooling: the Keras layer of the classic LSTM + attention sentiment tutorial.

    e_t = tanh(x_t W + b_t),   a = softmax(e),   c = sum_t a_t x_t

with one bias per position ``b_t`` as in the tutorial (so the layer is tied to a
maximum length), or without a bias. See also Raffel & Ellis 2015,
"Feed-Forward Networks with Attention Can Solve Some Long-Term Memory Problems"
(https://arxiv.org/abs/1512.08756).

Legend: B batch, S sequence length, D feature size.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .attend import attend


class AttentionPooling(nn.Module):
    """Pools a sequence of vectors into one with learned attention weights.

    Args:
        dim: size D of each input vector.
        max_len: with a value, a per-position bias b_t for positions 0..max_len-1
            (the tutorial's layer); ``None`` gives a layer without bias that accepts
            any length.
    """

    def __init__(self, dim: int, max_len: int | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dim))  # W: (D,)
        nn.init.normal_(self.weight, std=0.05)  # Keras' "normal" initializer
        self.max_len = max_len
        self.bias = nn.Parameter(torch.zeros(max_len)) if max_len is not None else None

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Args:
            x: (B, S, D) sequence.
            mask: (B, S) bool, True at real positions (see ``padding_mask``).

        Returns:
            ``(context, weights)``: (B, D) and (B, S).
        """
        scores = x @ self.weight  # (B, S)
        if self.bias is not None:
            seq_len = x.shape[1]
            if seq_len > self.max_len:
                raise ValueError(f"AttentionPooling: sequence length {seq_len} exceeds max_len={self.max_len}")
            scores = scores + self.bias[:seq_len]  # (B, S)
        return attend(torch.tanh(scores), x, mask)
