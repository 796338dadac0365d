"""Additive (Bahdanau) attention: score(q, k) = v^T tanh(W q + U k).

Bahdanau, Cho & Bengio 2015, "Neural Machine Translation by Jointly Learning to
Align and Translate" (https://arxiv.org/abs/1409.0473).

The key projection U k does not depend on the query, so a decoder computes it
once per sequence with :meth:`AdditiveAttention.project_keys` and passes it to
every step; recomputing it per step is the main cost of many captioning codes.

Legend: B batch, T query steps, S key length, Dq query size, Dk key size,
Dv value size, A attention size.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .attend import KeyedAttention

CPU_BLOCK_ELEMENTS = 1 << 21  # 8 MB of float32: the block additive_scores works in on a CPU


def additive_scores(projected_query: Tensor, projected_keys: Tensor, v: nn.Linear) -> Tensor:
    """v^T tanh(Wq + Uk) from the two projections.

    Args:
        projected_query: (B, A) or (B, T, A).
        projected_keys: (B, S, A).
        v: a Linear from A to 1.

    Returns:
        scores (B, S) or (B, T, S).
    """
    # On a CPU the (B, [T,] S, A) hidden layer is worth computing a few sequences at a
    # time: a block that stays in cache makes the add and tanh 4-5x faster than one of
    # 128 MB (beam search, 64 images x 5 beams at the tutorial's sizes).
    per_sequence = projected_keys[0].numel() * (projected_query.shape[1] if projected_query.dim() == 3 else 1)
    rows = max(1, CPU_BLOCK_ELEMENTS // per_sequence)
    if projected_query.device.type == "cpu" and projected_query.shape[0] > rows:
        return torch.cat(
            [_additive_scores(q, k, v) for q, k in zip(projected_query.split(rows), projected_keys.split(rows))]
        )
    return _additive_scores(projected_query, projected_keys, v)


def _additive_scores(projected_query: Tensor, projected_keys: Tensor, v: nn.Linear) -> Tensor:
    if projected_query.dim() == 2:
        hidden = torch.tanh(projected_keys + projected_query.unsqueeze(1))  # (B, S, A)
        return v(hidden).squeeze(-1)  # (B, S)
    hidden = torch.tanh(projected_keys.unsqueeze(1) + projected_query.unsqueeze(2))  # (B, T, S, A)
    return v(hidden).squeeze(-1)  # (B, T, S)


class AdditiveAttention(KeyedAttention):
    """Bahdanau attention with a reusable key projection.

    Args:
        query_dim: size Dq of a query (e.g. the decoder state).
        key_dim: size Dk of a key (e.g. an annotation vector).
        attn_dim: size A of the hidden layer of the score.
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int) -> None:
        super().__init__()
        self.query_proj = nn.Linear(query_dim, attn_dim)  # W (its bias is the score's bias)
        self.key_proj = nn.Linear(key_dim, attn_dim, bias=False)  # U
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        """U k for every key, once per sequence: (B, S, Dk) -> (B, S, A)."""
        return self.key_proj(keys)

    def scores(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        """v^T tanh(W q + U k): (B, [T,] Dq) with (B, S, A) -> (B, [T,] S)."""
        return additive_scores(self.query_proj(query), projected_keys, self.v)
