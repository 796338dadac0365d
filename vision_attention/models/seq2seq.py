"""Sequence to sequence with attention: a bidirectional LSTM encoder and an LSTM decoder
attending with Bahdanau's additive score (https://arxiv.org/abs/1409.0473) or Luong's
global and local attention (https://arxiv.org/abs/1508.04025).

It follows the step-decoder protocol of :mod:`.decoding` (``memory``, ``init_state``,
``step``), so greedy and beam search are the captioners' own; its ``encoded`` input is the
padded source (B, S) with <pad> = 0.

Legend: B batch, S source length, T target length, V vocabulary, E embedding, H hidden.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..configured import Configured
from ..layers import AdditiveAttention, LocalAttention, LuongAttention, padding_mask
from ..vocab import PAD_ID
from .registry import register_model


class SourceMemory(NamedTuple):
    keys: Tensor  # (B, S, K) encoder states
    projected_keys: Tensor  # the attention's key projection, once per source
    mask: Tensor  # (B, S) True at real positions


class DecoderState(NamedTuple):
    h: Tensor  # (B, H)
    c: Tensor  # (B, H)
    feed: Tensor  # (B, H) Luong's attentional vector h~_{t-1} (input feeding); unused by Bahdanau
    position: Tensor  # (B,) target step t, for local-m


class DecoderStep(NamedTuple):
    logits: Tensor  # (B, V)
    alpha: Tensor  # (B, S)
    state: DecoderState


AttentionKind = Literal["bahdanau", "luong-dot", "luong-general", "luong-concat", "local-m", "local-p"]


@register_model
class Seq2Seq(Configured, nn.Module):
    """A bidirectional LSTM encoder and an LSTM decoder with attention.

    "bahdanau": the previous state s_{t-1} attends (additive score); s_t = LSTM([E y_{t-1}; c_t]);
    the output layer reads s_t, c_t and E y_{t-1}. "luong-*" / "local-*": the current h_t
    attends; h~_t = tanh(W_c [c_t; h_t]) gives the logits and, with input feeding, is fed
    to the next step beside E y_{t-1}. Local attention looks within ``window`` of p_t = t
    (local-m) or of a predicted p_t (local-p).

    Args:
        vocab_size: V, shared by source and target.
        embed_dim: E.
        hidden_dim: H, decoder size; each encoder direction has H / 2.
        attention: one of ``AttentionKind``.
        input_feeding: Luong's input feeding (Luong variants).
        window: half-width D of local attention.
        dropout: on embeddings and decoder outputs.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 64,
        hidden_dim: int = 128,
        attention: AttentionKind = "bahdanau",
        input_feeding: bool = True,
        window: int = 4,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if hidden_dim % 2:
            raise ValueError(f"hidden_dim must be even (two encoder directions), got {hidden_dim}")
        kinds = AttentionKind.__args__
        if attention not in kinds:
            raise ValueError(f"attention must be one of {', '.join(kinds)}, got {attention!r}")
        self.kind, self.input_feeding = attention, input_feeding and attention != "bahdanau"
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.encoder = nn.LSTM(embed_dim, hidden_dim // 2, batch_first=True, bidirectional=True)
        self.init_h = nn.Linear(hidden_dim, hidden_dim)
        self.dropout = nn.Dropout(dropout)
        keys = hidden_dim
        if attention == "bahdanau":
            self.attention = AdditiveAttention(hidden_dim, keys, hidden_dim)
            self.decoder = nn.LSTMCell(embed_dim + keys, hidden_dim)
            self.pre_output = nn.Linear(hidden_dim + keys + embed_dim, hidden_dim)
        else:
            score = attention.split("-")[1] if attention.startswith("luong") else "general"
            if attention.startswith("local"):
                mode = "monotonic" if attention == "local-m" else "predictive"
                self.attention = LocalAttention(hidden_dim, keys, mode, window, score)
            else:
                self.attention = LuongAttention(hidden_dim, keys, score)
            self.decoder = nn.LSTMCell(embed_dim + (hidden_dim if self.input_feeding else 0), hidden_dim)
            self.pre_output = nn.Linear(keys + hidden_dim, hidden_dim, bias=False)  # W_c
        self.out = nn.Linear(hidden_dim, vocab_size)

    def memory(self, source: Tensor) -> SourceMemory:
        """Encode the padded source (B, S) once: states, their key projection, the mask."""
        lengths = (source != PAD_ID).sum(1).clamp_min(1)
        packed = pack_padded_sequence(
            self.dropout(self.embedding(source)), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        states, _ = pad_packed_sequence(self.encoder(packed)[0], batch_first=True, total_length=source.shape[1])
        return SourceMemory(states, self.attention.project_keys(states), padding_mask(lengths, source.shape[1]))

    def init_state(self, memory: SourceMemory) -> DecoderState:
        mask = memory.mask.unsqueeze(-1).to(memory.keys.dtype)
        mean = (memory.keys * mask).sum(1) / mask.sum(1)  # (B, K)
        h = torch.tanh(self.init_h(mean))
        zeros = torch.zeros_like(h)
        return DecoderState(h, zeros, zeros, torch.zeros(len(h), dtype=torch.long, device=h.device))

    def _attend(self, query: Tensor, memory: SourceMemory, position: Tensor) -> tuple[Tensor, Tensor]:
        if self.kind.startswith("local"):
            return self.attention(
                query, memory.keys, mask=memory.mask, position=position, projected_keys=memory.projected_keys
            )
        return self.attention(query, memory.keys, mask=memory.mask, projected_keys=memory.projected_keys)

    def step(self, tokens: Tensor, state: DecoderState, memory: SourceMemory) -> DecoderStep:
        """One target step from the previous tokens (B,)."""
        embedded = self.dropout(self.embedding(tokens))  # (B, E)
        if self.kind == "bahdanau":
            context, alpha = self._attend(state.h, memory, state.position)
            h, c = self.decoder(torch.cat([embedded, context], 1), (state.h, state.c))
            hidden = torch.tanh(self.pre_output(torch.cat([h, context, embedded], 1)))
            feed = state.feed
        else:
            inputs = torch.cat([embedded, state.feed], 1) if self.input_feeding else embedded
            h, c = self.decoder(inputs, (state.h, state.c))
            context, alpha = self._attend(h, memory, state.position)
            hidden = feed = torch.tanh(self.pre_output(torch.cat([context, h], 1)))  # h~_t
        logits = self.out(self.dropout(hidden))
        return DecoderStep(logits, alpha, DecoderState(h, c, feed, state.position + 1))

    def forward(self, source: Tensor, target_in: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher forcing: target_in (B, T) starts with <start>; returns logits (B, T, V) and alphas (B, T, S)."""
        memory = self.memory(source)
        state = self.init_state(memory)
        logits, alphas = [], []
        for t in range(target_in.shape[1]):
            out = self.step(target_in[:, t], state, memory)
            logits.append(out.logits)
            alphas.append(out.alpha)
            state = out.state
        return torch.stack(logits, 1), torch.stack(alphas, 1)


def sequence_loss(logits: Tensor, target_out: Tensor) -> Tensor:
    """Cross-entropy per target token, <pad> ignored: logits (B, T, V), target_out (B, T)."""
    return F.cross_entropy(logits.flatten(0, 1), target_out.flatten(), ignore_index=PAD_ID)
