"""Luong (global) attention with the dot, general and concat scores.

Luong, Pham & Manning 2015, "Effective Approaches to Attention-based Neural
Machine Translation" (https://arxiv.org/abs/1508.04025), section 3.1:

    dot:     score(h_t, h_s) = h_t^T h_s
    general: score(h_t, h_s) = h_t^T W_a h_s
    concat:  score(h_t, h_s) = v_a^T tanh(W_a [h_t; h_s])

The key side of each score (W_a h_s; the key half of W_a for concat) can be
computed once per sequence with :meth:`LuongAttention.project_keys`.

Legend: B batch, T query steps, S key length, Dq query size, Dk key size, A attention size.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from .additive import additive_scores
from .attend import KeyedAttention

LuongScore = Literal["dot", "general", "concat"]


def dot_scores(query: Tensor, keys: Tensor) -> Tensor:
    """query . key for every key: (B, Dq) or (B, T, Dq) with (B, S, Dq) -> (B, [T,] S)."""
    if query.dim() == 2:
        return torch.bmm(keys, query.unsqueeze(2)).squeeze(2)  # (B, S)
    return torch.bmm(query, keys.transpose(1, 2))  # (B, T, S)


class LuongAttention(KeyedAttention):
    """Luong global attention.

    Args:
        query_dim: size Dq of the decoder state h_t.
        key_dim: size Dk of an encoder state h_s (must equal ``query_dim`` for "dot").
        score: "dot", "general" or "concat".
        attn_dim: hidden size A of the concat score (defaults to ``query_dim``).
    """

    def __init__(
        self,
        query_dim: int,
        key_dim: int,
        score: LuongScore = "general",
        attn_dim: int | None = None,
    ) -> None:
        super().__init__()
        if score not in ("dot", "general", "concat"):
            raise ValueError(f"LuongAttention: score must be dot, general or concat, got {score!r}")
        if score == "dot" and query_dim != key_dim:
            raise ValueError(f"LuongAttention: the dot score needs query_dim == key_dim, got {query_dim} and {key_dim}")
        self.score = score
        if score == "general":
            self.key_proj = nn.Linear(key_dim, query_dim, bias=False)  # W_a
        elif score == "concat":
            attn_dim = attn_dim or query_dim
            self.query_proj = nn.Linear(query_dim, attn_dim, bias=False)  # W_a, h_t half
            self.key_proj = nn.Linear(key_dim, attn_dim, bias=False)  # W_a, h_s half
            self.v = nn.Linear(attn_dim, 1, bias=False)  # v_a

    def project_keys(self, keys: Tensor) -> Tensor:
        """The query-independent part of the score: (B, S, Dk) -> (B, S, Dq or A)."""
        return keys if self.score == "dot" else self.key_proj(keys)

    def scores(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        """Unnormalised scores (B, [T,] S) of a query (B, [T,] Dq) against projected keys."""
        if self.score == "concat":
            return additive_scores(self.query_proj(query), projected_keys, self.v)
        return dot_scores(query, projected_keys)
