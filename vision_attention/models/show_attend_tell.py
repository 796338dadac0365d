"""Show, Attend and Tell (Xu et al. 2015, ICML, https://arxiv.org/abs/1502.03044).

An LSTM decoder that, at every word, attends over the L annotation vectors of an
image (section 3.1.2):

    alpha_t = softmax(f_att(a, h_{t-1}))                       additive attention, eq. 4-5
    z_t     = beta_t * phi(a, alpha_t),  beta_t = sigmoid(f_beta(h_{t-1}))   gating scalar, 4.2.1
    h_t     = LSTM([E y_{t-1}; z_t], h_{t-1})                 eq. 1-3
    p(y_t)  ~ exp(L_o tanh(E y_{t-1} + L_h h_t + L_z z_t))     deep output, eq. 7
    h_0, c_0 = tanh(f_init(mean_i a_i))

phi is the expected annotation (soft, deterministic attention) or a sampled one
(hard, stochastic attention, trained by REINFORCE; see :func:`hard_attention_loss`).
The tanh in the deep output follows the authors' code. The key projection of
f_att is computed once per image.

:meth:`ShowAttendTell.step` is one word of these equations; :meth:`ShowAttendTell.forward`
runs it over a whole caption (teacher forcing), and hands the same pass to the fused engine
of :mod:`vision_attention.models.fused.show_attend_tell` unless the engines are turned off
(:func:`~vision_attention.models.fused.fused_off`).

Legend: B batch, T caption steps, L = h*w locations, D annotation size, E embedding
size, H hidden size, A attention size, V vocabulary size.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from ..configured import Configured
from ..layers import SoftAttention, sample_location
from .backbones import Backbone
from .fused import use_fused
from .fused.show_attend_tell import teacher_forced as fused_pass
from .registry import register_model


class Memory(NamedTuple):
    """What the decoder reads at every step; fixed for a caption."""

    features: Tensor  # (B, L, D) annotation vectors
    keys: Tensor  # (B, L, A) their attention projection


class State(NamedTuple):
    h: Tensor  # (B, H)
    c: Tensor  # (B, H)


class StepOutput(NamedTuple):
    logits: Tensor  # (B, V)
    alpha: Tensor  # (B, L)
    state: State
    log_prob: Tensor | None  # (B,) log p(s_t) of a hard-attention sample
    entropy: Tensor | None  # (B,) H[alpha_t]


class TeacherForced(NamedTuple):
    logits: Tensor  # (B, T, V)
    alphas: Tensor  # (B, T, L)
    log_probs: Tensor | None  # (B, T) hard attention: log p(s_t)
    entropies: Tensor | None  # (B, T) hard attention: H[alpha_t]


@register_model
class ShowAttendTell(Configured, nn.Module):
    """The Show, Attend and Tell captioner.

    Its step reads the memory only through the attention, which shares one image's
    memory among several consecutive state rows: beam search need not copy it per beam.

    Args:
        vocab_size: V, including the special tokens.
        encoder: CNN mapping images (B, 3, H, W) to (B, L, D); None for a decoder that
            only ever reads cached features.
        feature_dim: D, the size of an annotation vector (defaults to the encoder's).
        embed_dim: E, word embedding size (also the deep output size m).
        hidden_dim: H, LSTM size.
        attn_dim: A, hidden size of f_att.
        attention: "soft" (deterministic) or "hard" (stochastic) builds the paper's additive
            f_att; or any attention module honouring the contract below, used softly.
        dropout: dropout before the output layer.
        gating: use the gating scalar beta.

    The attention contract: ``attention.project_keys(features)`` maps (B, L, D) annotations
    to keys (B, L, ...) computed once per image, and ``attention(h, features,
    projected_keys=keys)`` maps a (B', H) state to ``(context (B', D), weights (B', L))``,
    where B' may be G x B rows, G consecutive rows per image (the beams of a beam search).
    Every :class:`~vision_attention.layers.attend.KeyedAttention` of :mod:`vision_attention.layers`
    honours it (additive, Luong). The additive one gets the fused teacher-forced path; the
    others are called once per step. A model with a module of its own cannot be rebuilt
    from its config alone (``from_config``): build it, then load the weights.
    """

    beams_share_memory = True  # see decoding.StepDecoder

    def __init__(
        self,
        vocab_size: int,
        encoder: Backbone | None = None,
        feature_dim: int | None = None,
        embed_dim: int = 512,
        hidden_dim: int = 512,
        attn_dim: int = 512,
        attention: Literal["soft", "hard"] | nn.Module = "soft",
        dropout: float = 0.5,
        gating: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(attention, nn.Module) and attention not in ("soft", "hard"):
            raise ValueError(f"attention must be 'soft', 'hard' or an attention module, got {attention!r}")
        if feature_dim is None:
            if encoder is None:
                raise ValueError("ShowAttendTell: give feature_dim when there is no encoder")
            feature_dim = encoder.out_dim
        self.encoder = encoder
        self.attention_type = "hard" if attention == "hard" else "soft"  # hard: locations sampled in training
        self.vocab_size, self.embed_dim, self.hidden_dim = vocab_size, embed_dim, hidden_dim
        self.embed = nn.Embedding(vocab_size, embed_dim)  # E
        # f_att; hard attention samples from its weights (sample_location), so both are additive
        self.attention = SoftAttention(hidden_dim, feature_dim, attn_dim) if isinstance(attention, str) else attention
        self.gate = nn.Linear(hidden_dim, 1) if gating else None  # f_beta
        self.init_h = nn.Linear(feature_dim, hidden_dim)
        self.init_c = nn.Linear(feature_dim, hidden_dim)
        self.lstm = nn.LSTMCell(embed_dim + feature_dim, hidden_dim)
        self.out_h = nn.Linear(hidden_dim, embed_dim)  # L_h
        self.out_z = nn.Linear(feature_dim, embed_dim, bias=False)  # L_z
        self.out = nn.Linear(embed_dim, vocab_size)  # L_o
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def recorded(cls, arguments: dict) -> dict:
        """feature_dim as built (the encoder's when not given): inference sizes its beams by it."""
        if arguments["feature_dim"] is None and arguments["encoder"] is not None:
            arguments = {**arguments, "feature_dim": arguments["encoder"].out_dim}
        return super().recorded(arguments)

    # ----- shared pieces ------------------------------------------------------------
    def encode(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, L, D)."""
        if self.encoder is None:
            raise RuntimeError("this ShowAttendTell has no encoder: pass features instead of images")
        return self.encoder(images)

    def memory(self, features: Tensor) -> Memory:
        """Attention keys computed once per image: (B, L, D) -> Memory."""
        return Memory(features, self.attention.project_keys(features))  # (B, L, A)

    def init_state(self, memory: Memory) -> State:
        mean = memory.features.mean(dim=1)  # (B, D)
        return State(torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean)))  # (B, H) x 2

    def readout(self, embedded: Tensor, h: Tensor, z: Tensor) -> Tensor:
        """Deep output (eq. 7): (.., E), (.., H), (.., D) -> logits (.., V)."""
        return self.out(self.dropout(torch.tanh(embedded + self.out_h(h) + self.out_z(z))))

    # ----- reference path: one step -------------------------------------------------
    def step(
        self,
        tokens: Tensor,
        state: State,
        memory: Memory,
        sample_attention: bool = False,
        expectation: Tensor | bool = False,
        generator: torch.Generator | None = None,
    ) -> StepOutput:
        """One decoder step.

        Args:
            tokens: (B,) the previous words y_{t-1}.
            state: (h_{t-1}, c_{t-1}).
            memory: from :meth:`memory`.
            sample_attention: hard attention: sample the location (training) rather than
                use the expected context (deterministic decoding).
            expectation: with sampling, (B,) bool: use the expected context for these.
            generator: random generator for the sample.
        """
        embedded = self.embed(tokens)  # (B, E)
        log_prob = entropy = None
        context, alpha = self.attention(state.h, memory.features, projected_keys=memory.keys)  # (B, D), (B, L)
        if self.attention_type == "hard" and sample_attention:
            sample = sample_location(context, alpha, memory.features, expectation, generator)
            context, log_prob, entropy = sample.context, sample.log_prob, sample.entropy
        z = context if self.gate is None else torch.sigmoid(self.gate(state.h)) * context  # (B, D)
        h, c = self.lstm(torch.cat([embedded, z], dim=1), state)  # (B, H) x 2
        return StepOutput(self.readout(embedded, h, z), alpha, State(h, c), log_prob, entropy)

    # ----- the teacher-forced pass: the paper's loop --------------------------------
    def forward(
        self,
        features: Tensor,
        captions: Tensor,
        sample_attention: bool | None = None,
        expectation: Tensor | bool = False,
        generator: torch.Generator | None = None,
        lengths: Tensor | None = None,
    ) -> TeacherForced:
        """Teacher forcing over whole captions: :meth:`step` at every word (eq. 1-7), the fused
        engine (:mod:`~vision_attention.models.fused.show_attend_tell`) unless turned off.

        Args:
            features: (B, L, D) annotation vectors (see :meth:`encode`).
            captions: (B, T+1) ids from <start> to <end>, right-padded; the model reads
                captions[:, :-1] and predicts captions[:, 1:].
            sample_attention: hard attention: sample locations; defaults to ``self.training``.
            expectation, generator: as :meth:`step`.
            lengths: (B,) caption lengths with <start> and <end>: outputs past each <end> are 0.
        """
        hard = self.attention_type == "hard" and (self.training if sample_attention is None else sample_attention)
        if use_fused():
            return TeacherForced(*fused_pass(self, features, captions, hard, expectation, generator, lengths))
        memory = self.memory(features)  # (B, L, D), (B, L, A)
        state = self.init_state(memory)  # h_0, c_0
        outs = []
        for t in range(captions.shape[1] - 1):  # y_{t-1} is the caption's own word
            outs.append(self.step(captions[:, t], state, memory, hard, expectation, generator))
            state = outs[-1].state
        logits = torch.stack([o.logits for o in outs], dim=1)  # (B, T, V)
        alphas = torch.stack([o.alpha for o in outs], dim=1)  # (B, T, L)
        log_probs = torch.stack([o.log_prob for o in outs], dim=1) if hard else None  # (B, T)
        entropies = torch.stack([o.entropy for o in outs], dim=1) if hard else None  # (B, T)
        if lengths is not None:  # 0 past each caption's <end>, as the fused pass leaves them
            real = (torch.arange(logits.shape[1], device=logits.device) < (lengths - 1)[:, None]).to(logits.dtype)
            logits, alphas = logits * real[..., None], alphas * real[..., None]  # real: (B, T)
            log_probs, entropies = (x if x is None else x * real for x in (log_probs, entropies))
        return TeacherForced(logits, alphas, log_probs, entropies)


def caption_loss(
    logits: Tensor, targets: Tensor, alphas: Tensor, lengths: Tensor, doubly_stochastic: float = 1.0
) -> tuple[Tensor, Tensor, Tensor]:
    """The paper's objective (eq. 14), -log p(y | x) + lambda sum_i (1 - sum_t alpha_ti)^2
    per caption, summed over the batch and divided by its number of words.

    Args:
        logits: (B, T, V) predictions of targets.
        targets: (B, T) words to predict (captions[:, 1:]), padded with 0.
        alphas: (B, T, L) attention weights.
        lengths: (B,) caption lengths with <start> and <end> (the targets are lengths - 1 long).
        doubly_stochastic: lambda.

    Returns:
        (loss, per-word NLL (B, T) with 0 at padding, penalty per caption (B,)).
    """
    steps = targets.shape[1]
    real = torch.arange(steps, device=targets.device)[None, :] < (lengths - 1)[:, None]  # (B, T)
    word_nll = nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none") * real  # (B, T)
    coverage = (alphas * real.unsqueeze(-1)).sum(1)  # (B, L) sum_t alpha_ti over real steps
    penalty = ((1.0 - coverage) ** 2).sum(1)  # (B,)
    return (word_nll.sum() + doubly_stochastic * penalty.sum()) / real.sum(), word_nll, penalty


def hard_attention_loss(
    word_nll: Tensor,
    log_probs: Tensor,
    entropies: Tensor,
    lengths: Tensor,
    baseline: Tensor | float,
    reinforce_weight: float = 1.0,
    entropy_weight: float = 0.01,
    reward_to_go: bool = False,
) -> Tensor:
    """The REINFORCE terms of the variational bound L_s (Xu et al. eq. 12), per caption.

    Added to the caption's -log p(y | s, a), their gradient is the paper's estimator:
    ``lambda_r (log p(y|s,a) - b) d log p(s|a)`` with the moving-average baseline b, and
    ``lambda_e dH[s]``. Normalise them as the NLL is normalised (by the number of words
    for :func:`caption_loss`), so that the balance of the terms is the paper's.

    With ``reward_to_go`` the location s_t is rewarded by the words from step t on,
    log p(y_t.. | s, a), rather than by the whole caption: y_<t were predicted before s_t
    was drawn, so their terms add only noise to its gradient. The estimator stays
    unbiased, with less variance (the usual causality argument of policy gradients).

    Args:
        word_nll: (B, T) -log p(y_t | s, a) of each word under the sampled locations, 0 at padding.
        log_probs: (B, T) log p(s_t) of the samples (0 where the expectation was used).
        entropies: (B, T) H[alpha_t].
        lengths: (B,) caption lengths with <start> and <end>.
        baseline: b, a moving average of the reward: a float, one per caption (B, 1), or
            with ``reward_to_go`` one per step (B, T). It must not depend on the sample.
        reinforce_weight: lambda_r.
        entropy_weight: lambda_e.
        reward_to_go: reward s_t with the words from t on instead of the whole caption.

    Returns:
        (B,) the terms to add to each caption's loss.
    """
    real = torch.arange(log_probs.shape[1], device=log_probs.device)[None, :] < (lengths - 1)[:, None]  # (B, T)
    reward = caption_rewards(word_nll, reward_to_go) - baseline  # (B, T) or (B, 1)
    score = (log_probs * reward * real).sum(1)  # (B,) sum_t (R_t - b_t) log p(s_t)
    entropy = (entropies * real).sum(1)  # (B,)
    return -(reinforce_weight * score + entropy_weight * entropy)


def caption_rewards(word_nll: Tensor, to_go: bool = False) -> Tensor:
    """log p(y | s, a) of each caption (B, 1), or with ``to_go`` of its words from each
    step on (B, T): the rewards of :func:`hard_attention_loss`. Detached."""
    log_p = -word_nll.detach()  # (B, T), 0 at padding
    return log_p.flip(1).cumsum(1).flip(1) if to_go else log_p.sum(1, keepdim=True)


MAX_WORDS = 63  # longer captions (or rewards summing more words) share the baseline of 63 words


def reinforce_terms(
    word_nll: Tensor,
    log_probs: Tensor,
    entropies: Tensor,
    lengths: Tensor,
    sampled: Tensor,
    baseline: Tensor,
    reference: Tensor | float = 0.0,
    decay: float = 0.9,
    reinforce_weight: float = 1.0,
    entropy_weight: float = 0.01,
    reward_to_go: bool = False,
) -> Tensor:
    """A batch's REINFORCE terms (:func:`hard_attention_loss`) against a moving-average baseline,
    and that baseline's update: the whole hard-attention objective beside the caption loss.

    The baseline is kept per number of words a reward sums, b_n (``baseline``, (MAX_WORDS + 1,),
    updated in place): b_n <- decay b_n + (1 - decay) mean of the rewards of the sampled captions
    that sum n words, less ``reference`` (0, or a per-caption part such as log p(y | a) under the
    expected context). A baseline independent of the sample keeps the estimator unbiased.

    Args:
        word_nll, log_probs, entropies, lengths: as :func:`hard_attention_loss`.
        sampled: (B,) bool, the captions whose locations were sampled (not the expectation).
        baseline: (MAX_WORDS + 1,) b_n.
        reference: per-caption part of the baseline, (B, 1) or (B, T), or 0.
        decay, reinforce_weight, entropy_weight, reward_to_go: as their names say.

    Returns:
        (B,) the terms to add to each caption's loss, to be normalised as the NLL is.
    """
    words = lengths - 1  # (B,)
    steps = torch.arange(word_nll.shape[1], device=word_nll.device)
    rewarded = words[:, None] - steps if reward_to_go else words[:, None]  # words each reward sums
    rewarded = rewarded.clamp(0, MAX_WORDS)  # (B, T) or (B, 1); 0 at padding
    terms = hard_attention_loss(
        word_nll, log_probs, entropies, lengths, reference + baseline[rewarded],
        reinforce_weight, entropy_weight, reward_to_go,
    )  # fmt: skip
    use = sampled[:, None] & (rewarded > 0)  # sampled captions, real steps
    if use.any():
        with torch.no_grad():
            rewards = (caption_rewards(word_nll, reward_to_go) - reference)[use]
            total = torch.zeros_like(baseline).index_add_(0, rewarded[use], rewards)
            count = torch.zeros_like(baseline).index_add_(0, rewarded[use], torch.ones_like(rewards))
            seen = count > 0
            baseline[seen] = decay * baseline[seen] + (1 - decay) * total[seen] / count[seen]
    return terms
