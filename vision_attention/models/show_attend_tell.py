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

Two paths compute the same thing: :meth:`ShowAttendTell.step` (one word at a time,
used by decoding; the plain reference) and :meth:`ShowAttendTell.forward` (teacher
forcing over a whole caption, with the word-side products hoisted out of the
loop and the three h_{t-1} products fused into one matmul).

Legend: B batch, T caption steps, L = h*w locations, D annotation size, E embedding
size, H hidden size, A attention size, V vocabulary size.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from ..backbones import Backbone
from ..layers import AdditiveAttention, SoftAttention, StepwiseAdditiveAttention, lstm_update, sample_location


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


class ShowAttendTell(nn.Module):
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
        self.config = {
            "vocab_size": vocab_size,
            "encoder": None if encoder is None else encoder.config,
            "feature_dim": feature_dim,
            "embed_dim": embed_dim,
            "hidden_dim": hidden_dim,
            "attn_dim": attn_dim,
            "attention": attention if isinstance(attention, str) else f"module:{type(attention).__qualname__}",
            "dropout": dropout,
            "gating": gating,
        }
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
    def from_config(cls, config: dict) -> ShowAttendTell:
        """Rebuild (with fresh weights) from :attr:`config`."""
        if str(config.get("attention", "")).startswith("module:"):
            raise ValueError(
                f"this captioner's attention is a module of its own ({config['attention'][7:]}): "
                "build the model with it, then load the weights"
            )
        encoder = Backbone(**config["encoder"]) if config.get("encoder") else None
        return cls(**{**config, "encoder": encoder})

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

    def _readout(self, embedded: Tensor, h: Tensor, z: Tensor) -> Tensor:
        """Deep output: (.., E), (.., H), (.., D) -> logits (.., V)."""
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
        return StepOutput(self._readout(embedded, h, z), alpha, State(h, c), log_prob, entropy)

    # ----- fast path: teacher forcing -----------------------------------------------
    def forward(
        self,
        features: Tensor,
        captions: Tensor,
        sample_attention: bool | None = None,
        expectation: Tensor | bool = False,
        generator: torch.Generator | None = None,
        lengths: Tensor | None = None,
    ) -> TeacherForced:
        """Teacher-forced pass over whole captions.

        Args:
            features: (B, L, D) annotation vectors (see :meth:`encode`).
            captions: (B, T+1) ids from <start> to <end>, right-padded; the model reads
                captions[:, :-1] and predicts captions[:, 1:].
            sample_attention: hard attention: sample locations; defaults to ``self.training``.
            expectation: with sampling, (B,) bool: use the expected context for these.
            generator: random generator for the samples.
            lengths: (B,) caption lengths with <start> and <end>. With them each caption
                stops at its <end> and its outputs over the padding are 0; without them
                every caption runs all T steps.

        Returns:
            :class:`TeacherForced` with logits (B, T, V) and alphas (B, T, L).
        """
        hard = self.attention_type == "hard" and (self.training if sample_attention is None else sample_attention)
        batch, steps = captions.shape[0], captions.shape[1] - 1
        rows = _Rows(batch, steps, lengths)
        features, captions = rows.sort(features), rows.sort(captions)
        if isinstance(expectation, Tensor):
            expectation = rows.sort(expectation)
        memory = self.memory(features)
        embedded = self.embed(captions[:, :-1])  # (B, T, E)
        trace = self._recur(memory, embedded, rows.active, hard, expectation, generator)
        states, contexts, alphas, log_probs, entropies = (rows.unsort(xs) for xs in trace)  # (B, T, ...)
        logits = self._readout_words(rows.unsort_rows(embedded), states, contexts, rows)  # (B, T, V)
        return TeacherForced(logits, alphas, log_probs, entropies)

    def _recur(self, memory: Memory, embedded: Tensor, active: list[int], hard: bool, expectation, generator) -> tuple:
        """The LSTM over the T steps, step t on the ``active[t]`` captions still running:
        per-step lists of h_t, z_t, alpha_t (and for hard attention log p(s_t), H[alpha_t])."""
        h, c = self.init_state(memory)
        E, H = self.embed_dim, self.hidden_dim
        w_ih = self.lstm.weight_ih  # (4H, E + D)
        word_gates = embedded @ w_ih[:, :E].T + self.lstm.bias_ih + self.lstm.bias_hh  # (B, T, 4H)
        w_z = w_ih[:, E:]  # (4H, D)
        w_fused, b_fused, attend = self._fused_query(memory)
        trace = ([], [], [], [], [])  # h, z, alpha, log p(s), entropy
        for t, rows in enumerate(active):
            if rows == 0:  # every caption has ended
                break
            h, c = h[:rows], c[:rows]  # the captions still running
            projected = torch.addmm(b_fused, h, w_fused.T)  # (b, 4H [+ A] [+ 1]): h_{t-1}'s products
            context, alpha = attend(projected[:, 4 * H :], h, rows)  # (b, D), (b, L)
            if hard:
                running = expectation[:rows] if isinstance(expectation, Tensor) else expectation
                sample = sample_location(context, alpha, memory.features[:rows], running, generator)
                context = sample.context
                trace[3].append(sample.log_prob)
                trace[4].append(sample.entropy)
            z = context if self.gate is None else torch.sigmoid(projected[:, -1:]) * context  # (b, D)
            h, c = lstm_update(word_gates[:rows, t] + projected[:, : 4 * H] + z @ w_z.T, c)  # (b, H) x 2
            for out, value in zip(trace, (h, z, alpha)):
                out.append(value)
        return trace

    def _fused_query(self, memory: Memory):
        """h_{t-1} feeds the LSTM, f_beta and (additive attention) f_att's query: one matmul
        for all. Returns its weight and bias and ``attend(query_part, h, rows) -> (z, alpha)``."""
        fused = [self.lstm.weight_hh]
        fused_bias = [torch.zeros_like(self.lstm.bias_hh)]
        if type(self.attention) in (
            AdditiveAttention,
            SoftAttention,
        ):  # the paper's f_att: fused, hand-written backward
            fused.append(self.attention.query_proj.weight)
            fused_bias.append(self.attention.query_proj.bias)
            A = self.attention.query_proj.out_features
            step = StepwiseAdditiveAttention(memory.keys, memory.features, self.attention.v.weight[0])
            attend = lambda projected, h, rows: step(projected[:, :A])
        else:  # any other attention: called on the running rows
            attend = lambda projected, h, rows: self.attention(
                h, memory.features[:rows], projected_keys=memory.keys[:rows]
            )
        if self.gate is not None:
            fused.append(self.gate.weight)
            fused_bias.append(self.gate.bias)
        return torch.cat(fused), torch.cat(fused_bias), attend

    def _readout_words(self, embedded: Tensor, states: Tensor, contexts: Tensor, rows: _Rows) -> Tensor:
        """The deep output (B, T, V), over the real words only when lengths are known (0 elsewhere)."""
        if rows.real is None:
            return self._readout(embedded, states, contexts)
        words = rows.real.flatten().nonzero().squeeze(1)  # (N,) positions of the real words in B x T
        pick = lambda x: x.flatten(0, 1).index_select(0, words)
        read = self._readout(pick(embedded), pick(states), pick(contexts))  # (N, V)
        return (
            read.new_zeros(rows.batch * rows.steps, self.vocab_size)
            .index_copy(0, words, read)
            .view(rows.batch, rows.steps, -1)
        )


class _Rows:
    """Which captions run at each step of a teacher-forced pass. With lengths, the batch is
    taken longest first, so that the captions still running at step t are a prefix of it:
    their rows are views, and the padding costs nothing (about 40% of the steps of a batch
    of 1-3 object scenes)."""

    def __init__(self, batch: int, steps: int, lengths: Tensor | None) -> None:
        self.batch, self.steps, self.real, self.order = batch, steps, None, None
        self.active = [batch] * steps
        if lengths is not None:
            self.order = torch.argsort(lengths, descending=True, stable=True)
            self.restore = torch.argsort(self.order)  # sorted rows -> the batch's order
            self.real = (
                torch.arange(steps, device=lengths.device)[None, :] < (lengths - 1)[:, None]
            )  # (B, T) real words
            self.active = self.real.sum(0).tolist()  # captions still running at each step

    def sort(self, x: Tensor) -> Tensor:
        return x if self.order is None else x.index_select(0, self.order)

    def unsort_rows(self, x: Tensor) -> Tensor:
        return x if self.order is None else x.index_select(0, self.restore)  # index_select: a cheap backward

    def unsort(self, xs: list[Tensor]) -> Tensor | None:
        """Per-step outputs of the running captions -> (B, T, ...), 0 where a caption has ended."""
        if not xs:
            return None
        out = nn.utils.rnn.pad_sequence(xs)  # (B, T', ...)
        if out.shape[1] < self.steps:
            out = torch.cat([out, out.new_zeros(self.batch, self.steps - out.shape[1], *out.shape[2:])], dim=1)
        return self.unsort_rows(out)


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
