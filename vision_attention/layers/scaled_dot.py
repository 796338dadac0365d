"""Scaled dot-product attention, softmax(q k^T / sqrt(d)) v (Vaswani et al. 2017,
"Attention Is All You Need", https://arxiv.org/abs/1706.03762).

Two paths that give the same context: a fast path through
``torch.nn.functional.scaled_dot_product_attention`` (fused kernels, used when the
weights are not asked for) and a reference path that returns the weights.

Legend: B batch, nh heads, T query length, S key length, d head size.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attend import masked_softmax, weighted_sum
from .masks import causal_mask


class ScaledDotProductAttention(nn.Module):
    """Scaled dot-product attention over any leading batch dimensions.

    Args:
        dropout: dropout probability on the attention weights during training.
        scale: score scale; defaults to 1 / sqrt(d).
    """

    def __init__(self, dropout: float = 0.0, scale: float | None = None) -> None:
        super().__init__()
        self.dropout = dropout
        self.scale = scale

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        mask: Tensor | None = None,
        causal: bool = False,
        need_weights: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """Args:
            query: (..., T, d).
            key: (..., S, d).
            value: (..., S, dv).
            mask: bool broadcastable to (..., T, S), True = may attend.
            causal: also forbid query t to see keys after t.
            need_weights: False takes the fused path and returns ``None`` weights.

        Returns:
            ``(context, weights)``: (..., T, dv) and (..., T, S) or ``None``.
        """
        if causal:
            future = causal_mask(query.shape[-2], key.shape[-2], device=query.device)  # (T, S)
            mask = future if mask is None else mask & future
        dropout = self.dropout if self.training else 0.0
        if not need_weights:
            context = F.scaled_dot_product_attention(
                query, key, value, attn_mask=mask, dropout_p=dropout, scale=self.scale
            )  # (..., T, dv)
            return context, None
        scale = self.scale if self.scale is not None else 1.0 / math.sqrt(query.shape[-1])
        scores = torch.matmul(query, key.transpose(-2, -1)) * scale  # (..., T, S)
        weights = masked_softmax(scores, mask)  # (..., T, S)
        if dropout > 0.0:
            weights = F.dropout(weights, dropout)
        return weighted_sum(weights, value), weights  # (..., T, dv)
