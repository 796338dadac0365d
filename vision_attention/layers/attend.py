"""The attention core: the one function that turns scores into (context, weights), and
the base of attentions whose key side is computed once per sequence.

Every attention module in this package computes only its scores and hands them to
:func:`attend`; masking, normalising and weighting happen here and nowhere else. Masks
(:mod:`.masks`) are bool with ``True`` = may attend.

Legend: B batch, T query steps, S key/source length, D value size.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def key_mask_for(mask: Tensor | None, scores: Tensor) -> Tensor | None:
    """A per-key mask (B, S) made broadcastable to scores (B, S) or (B, T, S)."""
    if mask is None or scores.dim() == mask.dim():
        return mask
    return mask.unsqueeze(-2)  # (B, 1, S)


def masked_softmax(scores: Tensor, mask: Tensor | None = None, dim: int = -1) -> Tensor:
    """Softmax over ``dim`` in which masked positions get weight exactly 0.

    A row with no attendable position gets all-zero weights (not NaN).

    Args:
        scores: unnormalised scores, e.g. (B, S) or (B, T, S).
        mask: bool, broadcastable to ``scores``; True = may attend.
        dim: the dimension normalised over.
    """
    if mask is None:
        return torch.softmax(scores, dim=dim)
    scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=dim)
    # exp(-inf) is exactly 0 already; the fill turns the NaN of rows masked
    # everywhere into 0 without a host sync to look for such rows.
    return weights.masked_fill(~mask, 0.0)


def attend(scores: Tensor, values: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Normalise scores and take the weighted sum of the values.

    Args:
        scores: (B, S) for one query per sequence, (B, T, S) for T queries, or
            (B, nh, T, S) for heads.
        values: (B, S, D), or (B, nh, S, D) for heads.
        mask: bool broadcastable to ``scores``, True = may attend.

    Returns:
        ``(context, weights)``: context (B, D) or (B, T, D); weights shaped as scores.
    """
    weights = masked_softmax(scores, mask)  # (B, [T,] S)
    return weighted_sum(weights, values), weights


def weighted_sum(weights: Tensor, values: Tensor) -> Tensor:
    """sum_s weights[..., s] * values[..., s, :].

    (B, S) with (B, S, D) -> (B, D); (..., T, S) with (..., S, D) -> (..., T, D).
    """
    if weights.dim() == 2:
        return torch.bmm(weights.unsqueeze(1), values).squeeze(1)  # (B, D)
    return torch.matmul(weights, values)  # (..., T, D)


class KeyedAttention(nn.Module):
    """Attention whose score has a query-independent key side: subclasses define
    ``project_keys`` (computed once per sequence) and ``scores``; normalising, masking
    and weighting are shared.

    Legend: B batch, T query steps, S key length, D value size.
    """

    def project_keys(self, keys: Tensor) -> Tensor:
        raise NotImplementedError

    def scores(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        values: Tensor | None = None,
        mask: Tensor | None = None,
        projected_keys: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Args:
            query: (B, Dq) for one step, or (B, T, Dq) for T steps at once.
            keys: (B, S, Dk).
            values: (B, S, D); defaults to ``keys``.
            mask: (B, S) bool, True = may attend.
            projected_keys: ``project_keys(keys)``, to skip recomputing it.

        A query batch of G x B rows (G consecutive rows per sequence, e.g. the beams of a
        beam search) against keys of batch B attends with each row's own sequence: the
        keys and values are shared, never copied G times.

        Returns:
            ``(context, weights)``: (B, [T,] D) and (B, [T,] S).
        """
        if query.dim() == 2 and query.shape[0] != keys.shape[0]:
            groups, rest = divmod(query.shape[0], keys.shape[0])
            if rest:
                raise ValueError(f"query batch {query.shape[0]} is not a multiple of the key batch {keys.shape[0]}")
            grouped = query.view(keys.shape[0], groups, -1)  # (B, G, Dq): the G queries of a sequence as steps
            # KeyedAttention's own forward: a subclass's forward (e.g. hard attention) would
            # see the grouped query and lose its own arguments
            context, weights = KeyedAttention.forward(self, grouped, keys, values, mask, projected_keys)
            return context.flatten(0, 1), weights.flatten(0, 1)
        if projected_keys is None:
            projected_keys = self.project_keys(keys)
        scores = self.scores(query, projected_keys)  # (B, [T,] S)
        values = keys if values is None else values
        return attend(scores, values, key_mask_for(mask, scores))
