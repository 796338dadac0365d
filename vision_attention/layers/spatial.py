"""Soft and hard attention over a grid of annotation vectors (Xu et al. 2015,
"Show, Attend and Tell", https://arxiv.org/abs/1502.03044, section 4).

Both score the L annotation vectors a_i against the decoder state h_{t-1} with
the additive MLP f_att and normalise to alpha_t (eq. 4-5).

* Soft (deterministic, section 4.2): z_t = sum_i alpha_ti a_i.
* Hard (stochastic, section 4.1): s_t ~ Multinoulli(alpha_t), z_t = a_{s_t}; the
  log-probability log alpha_{t,s_t} and the entropy H[alpha_t] are returned for
  REINFORCE. Where ``expectation`` is True the expected context (the soft one)
  replaces the sample, as the paper does with probability 0.5 during training.

Legend: B batch, L = h*w grid locations, D annotation size, H decoder state size.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .additive import AdditiveAttention


class SoftAttention(AdditiveAttention):
    """Deterministic soft attention: ``forward(h, features) -> (z, alpha)``.

    Args:
        query_dim: decoder state size H.
        key_dim: annotation size D.
        attn_dim: hidden size of f_att.
    """


class HardAttentionOutput(NamedTuple):
    """What :class:`HardAttention` returns; the first two are the usual ``(context, weights)``."""

    context: Tensor  # (B, D) z_t: the sampled annotation, or the expectation where asked
    weights: Tensor  # (B, L) alpha_t, the full distribution
    location: Tensor  # (B,) long, the sampled s_t
    log_prob: Tensor  # (B,) log alpha_{t, s_t}; 0 where the expectation was used
    entropy: Tensor  # (B,) H[alpha_t]


class HardAttention(AdditiveAttention):
    """Stochastic hard attention: samples one location per step.

    Args:
        query_dim: decoder state size H.
        key_dim: annotation size D.
        attn_dim: hidden size of f_att.
    """

    def forward(  # type: ignore[override]
        self,
        query: Tensor,
        keys: Tensor,
        values: Tensor | None = None,
        mask: Tensor | None = None,
        projected_keys: Tensor | None = None,
        expectation: Tensor | bool = False,
        generator: torch.Generator | None = None,
    ) -> HardAttentionOutput:
        """Args:
            query: (B, H) decoder state.
            keys: (B, L, D) annotation vectors.
            values: (B, L, Dv); defaults to ``keys``.
            mask: (B, L) bool, True = may attend.
            projected_keys: ``project_keys(keys)``, computed once per image.
            expectation: bool or (B,) bool; True uses the expected context instead
                of the sample for that example.
            generator: random generator for the sample.

        Returns:
            :class:`HardAttentionOutput` (context, weights, location, log_prob, entropy).
        """
        values = keys if values is None else values
        expected, weights = super().forward(query, keys, values, mask, projected_keys)  # (B, D), (B, L)
        return sample_location(expected, weights, values, expectation, generator)


def sample_location(
    expected: Tensor,
    weights: Tensor,
    values: Tensor,
    expectation: Tensor | bool = False,
    generator: torch.Generator | None = None,
) -> HardAttentionOutput:
    """Hard attention from a computed distribution: s ~ Multinoulli(weights), context = values[s].

    Args:
        expected: (B, D) the expected context sum_i weights_i values_i.
        weights: (B, L) the attention distribution.
        values: (B, L, D) annotation vectors.
        expectation: bool or (B,) bool; True keeps ``expected`` for that example
            (the Python value True draws no sample at all).
        generator: random generator for the sample.
    """
    if expectation is True:  # nothing to sample: report the mode, with log-probability 0
        zeros = weights.new_zeros(weights.shape[0])
        return HardAttentionOutput(expected, weights, weights.argmax(-1), zeros, categorical_entropy(weights))
    location = torch.multinomial(weights.detach(), 1, generator=generator).squeeze(1)  # (B,)
    sampled = values[torch.arange(values.shape[0], device=values.device), location]  # (B, D)
    use_expectation = torch.as_tensor(expectation, device=values.device).expand(location.shape)  # (B,)
    context = torch.where(use_expectation.unsqueeze(1), expected, sampled)  # (B, D)
    chosen = weights.gather(1, location.unsqueeze(1)).squeeze(1)  # (B,) alpha_{s_t}
    log_prob = torch.log(chosen.clamp_min(torch.finfo(weights.dtype).tiny)).masked_fill(use_expectation, 0.0)  # (B,)
    return HardAttentionOutput(context, weights, location, log_prob, categorical_entropy(weights))


def categorical_entropy(weights: Tensor) -> Tensor:
    """H[alpha] = -sum_i alpha_i log alpha_i over the last dimension: (..., L) -> (...).
    Masked locations (weight 0) add 0."""
    return -(weights * torch.log(weights.clamp_min(torch.finfo(weights.dtype).tiny))).sum(-1)
