"""Local attention (Luong, Pham & Manning 2015, section 3.2,
https://arxiv.org/abs/1508.04025).

Each query attends only to the window [p_t - D, p_t + D] of source positions:

    local-m ("monotonic"):  p_t = t; weights are the softmax of the scores
                            inside the window (eq. 7 restricted to it).
    local-p ("predictive"): p_t = S * sigmoid(v_p^T tanh(W_p h_t)), S the real
                            source length; weights are the window softmax times
                            exp(-(s - p_t)^2 / (2 sigma^2)) with sigma = D / 2 (eq. 10).

As in the paper, the Gaussian factor is not renormalised, so local-p weights sum
to at most 1; ``gaussian`` switches it for either mode. Positions outside the
window, or past the end of a sequence, get weight exactly 0. Scores are
Luong's dot/general/concat, through :class:`LuongAttention`.

Legend: B batch, T query steps, S source length, Dq query size, Dk key size.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from .attend import key_mask_for, masked_softmax, weighted_sum
from .luong import LuongAttention, LuongScore


class LocalAttention(nn.Module):
    """Luong local attention, monotonic or predictive.

    Args:
        query_dim: size Dq of the decoder state h_t.
        key_dim: size Dk of an encoder state.
        mode: "monotonic" (local-m) or "predictive" (local-p).
        window: half-width D of the window.
        score: Luong score used inside the window: "dot", "general" or "concat".
        gaussian: multiply by the Gaussian around p_t; defaults to the paper's
            choice (True for predictive, False for monotonic).
        predictor_dim: hidden size of the position predictor W_p (predictive mode).
    """

    def __init__(
        self,
        query_dim: int,
        key_dim: int,
        mode: Literal["monotonic", "predictive"] = "predictive",
        window: int = 10,
        score: LuongScore = "general",
        gaussian: bool | None = None,
        predictor_dim: int | None = None,
    ) -> None:
        super().__init__()
        if mode not in ("monotonic", "predictive"):
            raise ValueError(f"LocalAttention: mode must be monotonic or predictive, got {mode!r}")
        if window < 1:
            raise ValueError(f"LocalAttention: window must be >= 1, got {window}")
        self.mode = mode
        self.window = window
        self.gaussian = (mode == "predictive") if gaussian is None else gaussian
        self.align = LuongAttention(query_dim, key_dim, score)
        if mode == "predictive":
            predictor_dim = predictor_dim or query_dim
            self.position_hidden = nn.Linear(query_dim, predictor_dim, bias=False)  # W_p
            self.position_out = nn.Linear(predictor_dim, 1, bias=False)  # v_p

    def project_keys(self, keys: Tensor) -> Tensor:
        """The query-independent part of the score, once per sequence."""
        return self.align.project_keys(keys)

    def centre(self, query: Tensor, source_len: Tensor, position: Tensor | int | None) -> Tensor:
        """Window centre p_t, shaped like the query without its last dimension."""
        if self.mode == "predictive":
            gate = torch.sigmoid(self.position_out(torch.tanh(self.position_hidden(query)))).squeeze(-1)
            length = source_len.to(gate.dtype)  # (B,)
            return gate * (length if gate.dim() == 1 else length.unsqueeze(1))  # (B,) or (B, T)
        if position is None:
            if query.dim() == 2:
                raise ValueError("LocalAttention(mode='monotonic'): pass position=t for a single step")
            position = torch.arange(query.shape[1], device=query.device)  # (T,)
        position = torch.as_tensor(position, device=query.device, dtype=query.dtype)
        return position.expand(query.shape[:-1])  # (B,) or (B, T)

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        values: Tensor | None = None,
        mask: Tensor | None = None,
        position: Tensor | int | None = None,
        projected_keys: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Args:
            query: (B, Dq) for one step, or (B, T, Dq) for steps 0..T-1.
            keys: (B, S, Dk).
            values: (B, S, Dv); defaults to ``keys``.
            mask: (B, S) bool, True at real source positions.
            position: monotonic mode: the step t, an int or (B,) / (B, T) tensor;
                defaults to 0..T-1 for a (B, T, Dq) query.
            projected_keys: ``project_keys(keys)``, to skip recomputing it.

        Returns:
            ``(context, weights)``: (B, [T,] Dv) and (B, [T,] S), zero outside the window.
        """
        batch, src_len = keys.shape[:2]
        if projected_keys is None:
            projected_keys = self.project_keys(keys)
        scores = self.align.scores(query, projected_keys)  # (B, [T,] S)
        source_len = mask.sum(-1) if mask is not None else torch.full((batch,), src_len, device=keys.device)
        centre = self.centre(query, source_len, position).unsqueeze(-1)  # (B, [T,] 1)
        offset = torch.arange(src_len, device=keys.device, dtype=centre.dtype) - centre  # (B, [T,] S)
        allowed = offset.abs() <= self.window  # (B, [T,] S)
        if mask is not None:
            allowed = allowed & key_mask_for(mask, scores)
        weights = masked_softmax(scores, allowed)  # (B, [T,] S)
        if self.gaussian:
            sigma = self.window / 2
            weights = weights * torch.exp(-offset.square() / (2 * sigma**2))  # (B, [T,] S)
        values = keys if values is None else values
        return weighted_sum(weights, values), weights
