"""The LSTM + attention sentiment classifier of the classic Keras tutorial: every hidden
state of an LSTM pooled by attention (:class:`~vision_attention.layers.AttentionPooling`,
Raffel & Ellis 2015, https://arxiv.org/abs/1512.08756, or additive attention with a learnt
query), then a linear layer.

Legend: B batch, S sentence length, E embedding, H hidden.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..configured import Configured
from ..layers import AdditiveAttention, AttentionPooling, lstm_update, padding_mask
from ..vocab import PAD_ID
from .registry import register_model


class ClassifierOutput(NamedTuple):
    logits: Tensor  # (B, classes)
    weights: Tensor | None  # (B, S) attention over the tokens; None for the last-state baseline


def keras_initialised(lstm: nn.LSTM) -> nn.LSTM:
    """Keras' LSTM initialisation, which the tutorial's figures come from: Glorot-uniform
    input weights, zero biases but a forget-gate bias of 1, and recurrent weights orthogonal
    as one (4H, H) matrix, as Keras' Orthogonal makes its (H, 4H) kernel: orthonormal
    columns over all four gates, so each gate's block has singular values near 1/2."""
    for name, param in lstm.named_parameters():
        if name.startswith("weight_ih"):
            nn.init.xavier_uniform_(param)
        elif name.startswith("weight_hh"):
            nn.init.orthogonal_(param)
        else:
            nn.init.zeros_(param)
            if name.startswith("bias_ih"):
                param.data.chunk(4, 0)[1].fill_(1.0)  # gates are (i, f, g, o)
    return lstm


@register_model
class AttentionClassifier(Configured, nn.Module):
    """Embedding -> LSTM (every hidden state) -> attention pooling -> linear.

    Args:
        vocab_size: V.
        embed_dim: E (the tutorial: 32).
        hidden_dim: LSTM size H (the tutorial: 100).
        num_classes: output classes.
        pooling: "attention" (the tutorial's layer: tanh(h W + b_t), one bias per position),
            "additive" (Bahdanau scores against a learned query) or "last" (the baseline:
            the hidden state at the last real token).
        max_len: longest sentence, for the per-position bias of "attention".
        dropout: on the LSTM's inputs.
        recurrent_dropout: on the LSTM's previous state before its recurrent product, one
            mask per sentence held at every word (Keras' ``LSTM(recurrent_dropout=)`` of the
            tutorial, Gal & Ghahramani 2016, https://arxiv.org/abs/1512.05287).
            Unidirectional only.
        bidirectional: an LSTM each way with H/2 units, so every state sees the whole
            sentence (as the attention classifiers of Yang et al. 2016 and Zhou et al.
            2016); "last" then reads the forward state at the last word and the backward
            state at the first.
        see_padding: read every sentence padded to ``max_len`` as the tutorial's Keras model
            does (no mask): the attention pools over the padding positions too, whose states
            have read the whole sentence, and "last" reads the state after the padding.
            Unidirectional only.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 32,
        hidden_dim: int = 100,
        num_classes: int = 2,
        pooling: Literal["attention", "additive", "last"] = "attention",
        max_len: int = 32,
        dropout: float = 0.3,
        bidirectional: bool = False,
        see_padding: bool = False,
        recurrent_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= recurrent_dropout < 1.0:
            raise ValueError(f"recurrent_dropout must be in [0, 1), got {recurrent_dropout}")
        if recurrent_dropout and bidirectional:
            raise ValueError("recurrent_dropout runs a unidirectional LSTM; it cannot be combined with bidirectional")
        if see_padding and bidirectional:
            raise ValueError("see_padding reads a unidirectional LSTM; it cannot be combined with bidirectional")
        if pooling not in ("attention", "additive", "last"):
            raise ValueError(f"pooling must be attention, additive or last, got {pooling!r}")
        if bidirectional and hidden_dim % 2:
            raise ValueError(f"bidirectional needs an even hidden_dim (H/2 each way), got {hidden_dim}")
        self.pooling, self.bidirectional, self.see_padding = pooling, bidirectional, see_padding
        self.max_len, self.recurrent_dropout = max_len, recurrent_dropout
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)  # Keras' default: an L2 penalty on it stays small
        lstm_size = hidden_dim // 2 if bidirectional else hidden_dim
        self.lstm = keras_initialised(nn.LSTM(embed_dim, lstm_size, batch_first=True, bidirectional=bidirectional))
        self.dropout = nn.Dropout(dropout)
        if pooling == "attention":
            self.pool = AttentionPooling(hidden_dim, max_len)
        elif pooling == "additive":
            self.pool = AdditiveAttention(hidden_dim, hidden_dim, hidden_dim)
            self.query = nn.Parameter(torch.randn(hidden_dim) * 0.1)
        self.out = nn.Linear(hidden_dim, num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor) -> ClassifierOutput:
        """tokens (B, S) padded at the end, lengths (B,) -> logits and per-token weights."""
        if self.see_padding:  # every position of the padded sentence counts, as in the tutorial
            if tokens.shape[1] > self.max_len:
                raise ValueError(f"AttentionClassifier: {tokens.shape[1]} tokens exceed max_len={self.max_len}")
            tokens = F.pad(tokens, (0, self.max_len - tokens.shape[1]), value=PAD_ID)
            lengths = torch.full_like(lengths, self.max_len)
        # Dropout on the LSTM's inputs as Keras' LSTM(dropout=) of the tutorial: one mask
        # per sentence, the same at every word.
        embedded = self.embedding(tokens)  # (B, S, E)
        embedded = embedded * self.dropout(embedded.new_ones(embedded.shape[0], 1, embedded.shape[2]))
        if self.bidirectional:  # packed, so the backward LSTM starts at each sentence's last word
            packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
            states = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=tokens.shape[1])[0]
        elif self.training and self.recurrent_dropout:
            states = self._states_with_recurrent_dropout(embedded)
        else:
            states, _ = self.lstm(embedded)  # (B, S, H); padding after the words
        mask = padding_mask(lengths, tokens.shape[1])  # (B, S)
        if self.pooling == "last":
            last = states[torch.arange(len(tokens)), lengths - 1]  # (B, H)
            if self.bidirectional:  # the backward LSTM ends at the first word
                half = last.shape[1] // 2
                last = torch.cat([last[:, :half], states[:, 0, half:]], dim=1)
            pooled, weights = last, None
        elif self.pooling == "attention":
            pooled, weights = self.pool(states, mask)
        else:
            pooled, weights = self.pool(self.query.expand(len(tokens), -1), states, mask=mask)
        return ClassifierOutput(self.out(pooled), weights)

    def _states_with_recurrent_dropout(self, embedded: Tensor) -> Tensor:
        """The LSTM's states (B, S, H) with h_{t-1} masked before its product, the mask
        drawn once per sentence; the same weights as ``self.lstm``, so that evaluation,
        with no mask, runs the fused ``nn.LSTM``."""
        lstm, batch, steps = self.lstm, embedded.shape[0], embedded.shape[1]
        inputs = torch.addmm(lstm.bias_ih_l0 + lstm.bias_hh_l0, embedded.flatten(0, 1), lstm.weight_ih_l0.t())
        inputs = inputs.view(batch, steps, -1)  # (B, S, 4H): every input product at once
        h = c = embedded.new_zeros(batch, lstm.hidden_size)
        mask = F.dropout(torch.ones_like(h), self.recurrent_dropout)  # (B, H), scaled by 1 / (1 - p)
        states = []
        for step in range(steps):
            h, c = lstm_update(torch.addmm(inputs[:, step], h * mask, lstm.weight_hh_l0.t()), c)
            states.append(h)
        return torch.stack(states, dim=1)
