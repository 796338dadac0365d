"""Self-critical sequence training (Rennie, Marcheret, Mroueh, Ross, Goel 2017, "Self-critical
Sequence Training for Image Captioning", https://arxiv.org/abs/1612.00563): after
cross-entropy training, a captioner is trained on the metric it is judged by, with REINFORCE.

For each image, K captions w^k are sampled from the model; each gets a reward r(w^k) (CIDEr-D
against the image's references) and a baseline b^k that does not depend on w^k:

    greedy: b^k = r(w_greedy), the model's own greedy caption (the paper's self-critical baseline)
    mean:   b^k = mean of r(w^j), j != k, the other samples of the same image (Luo 2020,
            "A Better Variant of Self-Critical Sequence Training", https://arxiv.org/abs/2003.09971)

    loss = -1/(B K) sum_k (r(w^k) - b^k) log p(w^k | I)  -  beta * mean_t H[p(. | w^k_<t, I)]

The optional entropy bonus (beta > 0) keeps the policy from collapsing onto the few n-grams
the reward pays for: it rewards the entropy of the word distributions along the sampled
captions (Williams & Peng 1991's entropy regularisation, as A3C uses it).

Samples are drawn and scored with dropout off (the policy decoding runs), from the
distribution decoding uses (the suppressed words never drawn, the rest renormalised), so the
gradient is that of the policy that drew them. The reward is a function given by the caller
(the metric lives above this floor).

Legend: B images, K samples per image, N = B*K, T words, L locations, D feature size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from ..vocab import START_ID
from .decoding import SUPPRESSED, Decoded, greedy, sample, suppress

Reward = Callable[[Tensor, Tensor], Tensor]  # (tokens (N, T), image of each row (N,)) -> rewards (N,)


class SelfCritical(NamedTuple):
    loss: Tensor  # scalar
    rewards: Tensor  # (N,) of the samples
    baselines: Tensor  # (N,)
    samples: Decoded  # the N captions, K consecutive rows per image
    entropy: Tensor  # scalar: the mean entropy of the word distributions along the samples


def sequence_log_prob(
    model,
    features: Tensor,
    tokens: Tensor,
    lengths: Tensor,
    suppressed: tuple[int, ...] = SUPPRESSED,
    with_entropy: bool = False,
):
    """log p(tokens | image) of decoded captions (N, T), <end> included, under the
    distribution decoding draws from; teacher forced, so differentiable. (N,); with
    ``with_entropy`` also the mean entropy of the word distributions over their real steps (N,)."""
    start = torch.full_like(tokens[:, :1], START_ID)
    captions = torch.cat([start, tokens], 1)  # (N, T + 1)
    logits = model(features, captions, lengths=lengths + 1).logits  # (N, T, V)
    log_probs = torch.log_softmax(suppress(logits.float(), suppressed), -1)
    picked = log_probs.gather(2, tokens.unsqueeze(2)).squeeze(2)  # (N, T)
    real = torch.arange(tokens.shape[1], device=tokens.device)[None] < lengths[:, None]
    log_p = (picked.masked_fill(~real, 0.0)).sum(1)
    if not with_entropy:
        return log_p
    # the suppressed words have probability 0: their terms are 0, not nan
    entropy = -(log_probs.exp() * log_probs.masked_fill(torch.isinf(log_probs), 0.0)).sum(-1)  # (N, T)
    return log_p, entropy.masked_fill(~real, 0.0).sum(1) / lengths.clamp_min(1)


def self_critical_loss(
    model,
    features: Tensor,
    reward: Reward,
    samples: int = 5,
    baseline: Literal["greedy", "mean"] = "greedy",
    max_len: int = 20,
    generator: torch.Generator | None = None,
    suppressed: tuple[int, ...] = SUPPRESSED,
    entropy_bonus: float = 0.0,
) -> SelfCritical:
    """The self-critical loss of a batch of images.

    Args:
        model: a step decoder that is also teacher-forced (:class:`ShowAttendTell`).
        features: (B, L, D) the images' annotation vectors (gradients flow to a fine-tuned encoder).
        reward: scores captions: (tokens (N, T), image index of each row (N,)) -> (N,).
        samples: K captions drawn per image (at least 2 for the mean baseline).
        baseline: "greedy" or "mean" (see the module docstring).
        max_len: most words sampled.
        generator: random generator of the samples.
        suppressed: ids never drawn.
        entropy_bonus: beta, the weight of the sampled word distributions' mean entropy.
    """
    if baseline not in ("greedy", "mean"):
        raise ValueError(f"baseline must be 'greedy' or 'mean', got {baseline!r}")
    if baseline == "mean" and samples < 2:
        raise ValueError("the mean baseline needs at least 2 samples per image")
    batch = features.shape[0]
    images = torch.arange(batch, device=features.device)
    expanded = features.repeat_interleave(samples, 0)  # (N, L, D)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            drawn = sample(model, expanded.detach(), 1.0, max_len=max_len, generator=generator, suppressed=suppressed)
            rewards = reward(drawn.tokens, images.repeat_interleave(samples))  # (N,)
            if baseline == "greedy":
                best = greedy(model, features.detach(), max_len=max_len, suppressed=suppressed)
                baselines = reward(best.tokens, images).repeat_interleave(samples)  # (N,)
            else:
                grouped = rewards.view(batch, samples)  # (B, K)
                baselines = ((grouped.sum(1, keepdim=True) - grouped) / (samples - 1)).reshape(-1)  # (N,)
        log_p, entropy = sequence_log_prob(
            model, expanded, drawn.tokens, drawn.lengths, suppressed, with_entropy=True
        )  # (N,), (N,)
    finally:
        model.train(was_training)
    advantage = (rewards - baselines).to(log_p.dtype)
    loss = -(advantage * log_p).mean() - entropy_bonus * entropy.mean()
    return SelfCritical(loss, rewards, baselines, drawn, entropy.mean().detach())
