"""Positional encodings added to token embeddings (Vaswani et al. 2017, section 3.5,
https://arxiv.org/abs/1706.03762): fixed sinusoids, or learned vectors.

    PE(pos, 2i) = sin(pos / 10000^(2i/E)),   PE(pos, 2i+1) = cos(pos / 10000^(2i/E))

Legend: B batch, T sequence length, E model size.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoids(max_len: int, dim: int) -> Tensor:
    """The fixed table (max_len, E) of the paper."""
    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)  # (max_len, 1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(10000.0) / dim))  # (E/2,)
    table = torch.zeros(max_len, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return table.float()


class PositionalEncoding(nn.Module):
    """Adds a position vector to each step of a sequence.

    Args:
        dim: model size E.
        max_len: longest sequence supported.
        learned: learn the vectors (initialised at random) instead of fixed sinusoids.
        dropout: dropout applied after the addition, as in the paper.
    """

    def __init__(self, dim: int, max_len: int = 512, learned: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.max_len = max_len
        if learned:
            self.table = nn.Parameter(torch.randn(max_len, dim) * 0.02)
        else:
            self.register_buffer("table", sinusoids(max_len, dim), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """Args:
            x: (B, T, E) embeddings.
            offset: position of the first step (for step-by-step decoding).

        Returns:
            (B, T, E).
        """
        steps = x.shape[1]
        if offset + steps > self.max_len:
            raise ValueError(f"PositionalEncoding: position {offset + steps - 1} exceeds max_len={self.max_len}")
        return self.dropout(x + self.table[offset : offset + steps])  # (B, T, E)
