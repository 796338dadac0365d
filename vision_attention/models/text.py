"""Text sequence models on the shared attention core: the LSTM + attention sentiment
classifier of the classic tutorial, seq2seq with Bahdanau (https://arxiv.org/abs/1409.0473)
and Luong global/local attention (https://arxiv.org/abs/1508.04025), and a Transformer
(Vaswani et al. 2017, https://arxiv.org/abs/1706.03762) as a classifier and as an
encoder-decoder. Every attention comes from :mod:`vision_attention.layers`.

Seq2seq models follow the step-decoder protocol of :mod:`.decoding` (``memory``,
``init_state``, ``step``), so greedy and beam search are the captioners' own; their
``encoded`` input is the padded source (B, S) with <pad> = 0.

Legend: B batch, S source length, T target length, V vocabulary, E embedding, H hidden.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..layers import (
    AdditiveAttention,
    AttentionPooling,
    LocalAttention,
    LuongAttention,
    MultiHeadAttention,
    PositionalEncoding,
    lstm_update,
    padding_mask,
)
from ..vocab import PAD_ID as PAD


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


class AttentionClassifier(nn.Module):
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
        self.config = {"vocab_size": vocab_size, "embed_dim": embed_dim, "hidden_dim": hidden_dim,
                       "num_classes": num_classes, "pooling": pooling, "max_len": max_len, "dropout": dropout,
                       "bidirectional": bidirectional, "see_padding": see_padding,
                       "recurrent_dropout": recurrent_dropout}
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
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
            tokens = F.pad(tokens, (0, self.max_len - tokens.shape[1]), value=PAD)
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


class EncoderLayer(nn.Module):
    """Self-attention and a position-wise feed-forward net, each with a residual and
    layer norm after it (the paper's post-norm)."""

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.attention = MultiHeadAttention(dim, heads, dropout)
        self.ff = nn.Sequential(nn.Linear(dim, ff_dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ff_dim, dim))
        self.norm1, self.norm2, self.dropout = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        attended, _ = self.attention(x, key_padding_mask=mask, need_weights=False)
        x = self.norm1(x + self.dropout(attended))
        return self.norm2(x + self.dropout(self.ff(x)))


class DecoderLayer(nn.Module):
    """Causal self-attention, attention over the encoder, feed-forward (post-norm)."""

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.self_attention = MultiHeadAttention(dim, heads, dropout)
        self.cross_attention = MultiHeadAttention(dim, heads, dropout)
        self.ff = nn.Sequential(nn.Linear(dim, ff_dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ff_dim, dim))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(3))
        self.dropout = nn.Dropout(dropout)

    def forward(self, y: Tensor, memory: Tensor, memory_mask: Tensor, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        attended, _ = self.self_attention(y, causal=True, need_weights=False)
        y = self.norms[0](y + self.dropout(attended))
        attended, weights = self.cross_attention(y, memory, key_padding_mask=memory_mask, need_weights=need_weights)
        y = self.norms[1](y + self.dropout(attended))
        return self.norms[2](y + self.dropout(self.ff(y))), weights


class TransformerEncoder(nn.Module):
    """Scaled token embeddings + positions, then ``layers`` encoder layers."""

    def __init__(self, vocab_size: int, dim: int, heads: int, layers: int, ff_dim: int, dropout: float, max_len: int) -> None:
        super().__init__()
        self.dim = dim
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=PAD)
        nn.init.normal_(self.embedding.weight, std=dim**-0.5)  # x sqrt(dim) gives unit scale, as in the paper
        with torch.no_grad():
            self.embedding.weight[PAD].zero_()
        self.positions = PositionalEncoding(dim, max_len, dropout=dropout)
        self.layers = nn.ModuleList(EncoderLayer(dim, heads, ff_dim, dropout) for _ in range(layers))

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        x = self.positions(self.embedding(tokens) * math.sqrt(self.dim))  # (B, S, D)
        for layer in self.layers:
            x = layer(x, mask)
        return x


class TransformerClassifier(nn.Module):
    """A Transformer encoder read out by attention pooling (per-token weights to show).

    Args:
        vocab_size: V.
        dim: model size D.
        heads: attention heads.
        layers: encoder layers.
        ff_dim: feed-forward size.
        num_classes: output classes.
        dropout: dropout rate.
        max_len: longest sentence.
    """

    def __init__(self, vocab_size: int, dim: int = 64, heads: int = 4, layers: int = 2, ff_dim: int = 128,
                 num_classes: int = 2, dropout: float = 0.1, max_len: int = 64) -> None:
        super().__init__()
        self.config = {"vocab_size": vocab_size, "dim": dim, "heads": heads, "layers": layers, "ff_dim": ff_dim,
                       "num_classes": num_classes, "dropout": dropout, "max_len": max_len}
        self.encoder = TransformerEncoder(vocab_size, dim, heads, layers, ff_dim, dropout, max_len)
        self.pool = AttentionPooling(dim)
        self.out = nn.Linear(dim, num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor) -> ClassifierOutput:
        mask = padding_mask(lengths, tokens.shape[1])
        pooled, weights = self.pool(self.encoder(tokens, mask), mask)
        return ClassifierOutput(self.out(pooled), weights)


# ----- sequence to sequence ------------------------------------------------------------
class Memory(NamedTuple):
    keys: Tensor  # (B, S, K) encoder states
    projected_keys: Tensor  # the attention's key projection, once per source
    mask: Tensor  # (B, S) True at real positions


class State(NamedTuple):
    h: Tensor  # (B, H)
    c: Tensor  # (B, H)
    feed: Tensor  # (B, H) Luong's attentional vector h~_{t-1} (input feeding); unused by Bahdanau
    position: Tensor  # (B,) target step t, for local-m


class StepOutput(NamedTuple):
    logits: Tensor  # (B, V)
    alpha: Tensor  # (B, S)
    state: State


AttentionKind = Literal["bahdanau", "luong-dot", "luong-general", "luong-concat", "local-m", "local-p"]


class Seq2Seq(nn.Module):
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

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_dim: int = 128, attention: AttentionKind = "bahdanau",
                 input_feeding: bool = True, window: int = 4, dropout: float = 0.1) -> None:
        super().__init__()
        if hidden_dim % 2:
            raise ValueError(f"hidden_dim must be even (two encoder directions), got {hidden_dim}")
        kinds = AttentionKind.__args__
        if attention not in kinds:
            raise ValueError(f"attention must be one of {', '.join(kinds)}, got {attention!r}")
        self.kind, self.input_feeding = attention, input_feeding and attention != "bahdanau"
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
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
        self.config = {"vocab_size": vocab_size, "embed_dim": embed_dim, "hidden_dim": hidden_dim,
                       "attention": attention, "input_feeding": input_feeding, "window": window, "dropout": dropout}

    def memory(self, source: Tensor) -> Memory:
        """Encode the padded source (B, S) once: states, their key projection, the mask."""
        lengths = (source != PAD).sum(1).clamp_min(1)
        packed = pack_padded_sequence(self.dropout(self.embedding(source)), lengths.cpu(), batch_first=True, enforce_sorted=False)
        states, _ = pad_packed_sequence(self.encoder(packed)[0], batch_first=True, total_length=source.shape[1])
        return Memory(states, self.attention.project_keys(states), padding_mask(lengths, source.shape[1]))

    def init_state(self, memory: Memory) -> State:
        mask = memory.mask.unsqueeze(-1).to(memory.keys.dtype)
        mean = (memory.keys * mask).sum(1) / mask.sum(1)  # (B, K)
        h = torch.tanh(self.init_h(mean))
        zeros = torch.zeros_like(h)
        return State(h, zeros, zeros, torch.zeros(len(h), dtype=torch.long, device=h.device))

    def _attend(self, query: Tensor, memory: Memory, position: Tensor) -> tuple[Tensor, Tensor]:
        if self.kind.startswith("local"):
            return self.attention(query, memory.keys, mask=memory.mask, position=position, projected_keys=memory.projected_keys)
        return self.attention(query, memory.keys, mask=memory.mask, projected_keys=memory.projected_keys)

    def step(self, tokens: Tensor, state: State, memory: Memory) -> StepOutput:
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
        return StepOutput(logits, alpha, State(h, c, feed, state.position + 1))

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


class TransformerMemory(NamedTuple):
    states: Tensor  # (B, S, D) encoder output
    mask: Tensor  # (B, S) True at real positions


class TransformerState(NamedTuple):
    prefix: Tensor  # (B, t) the tokens so far, <start> first


class TransformerSeq2Seq(nn.Module):
    """The Transformer encoder-decoder with tied target embedding and output layer.

    Step-wise decoding recomputes the decoder over the prefix (sequences here are short);
    ``alpha`` is the last layer's attention over the source, averaged over heads.

    Args:
        vocab_size: V, shared by source and target.
        dim: model size D.
        heads: attention heads.
        layers: encoder and decoder layers each.
        ff_dim: feed-forward size.
        dropout: dropout rate.
        max_len: longest source or target.
    """

    def __init__(self, vocab_size: int, dim: int = 128, heads: int = 4, layers: int = 2, ff_dim: int = 256,
                 dropout: float = 0.1, max_len: int = 64) -> None:
        super().__init__()
        self.dim = dim
        self.encoder = TransformerEncoder(vocab_size, dim, heads, layers, ff_dim, dropout, max_len)
        self.embedding = self.encoder.embedding  # one vocabulary for source and target
        self.positions = PositionalEncoding(dim, max_len, dropout=dropout)
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, ff_dim, dropout) for _ in range(layers))
        self.out = nn.Linear(dim, vocab_size)
        self.out.weight = self.embedding.weight
        self.config = {"vocab_size": vocab_size, "dim": dim, "heads": heads, "layers": layers, "ff_dim": ff_dim,
                       "dropout": dropout, "max_len": max_len}

    def memory(self, source: Tensor) -> TransformerMemory:
        mask = source != PAD
        return TransformerMemory(self.encoder(source, mask), mask)

    def init_state(self, memory: TransformerMemory) -> TransformerState:
        return TransformerState(torch.zeros(len(memory[0]), 0, dtype=torch.long, device=memory[0].device))

    def decode(self, target_in: Tensor, memory: TransformerMemory, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        """(B, T) target prefix -> logits (B, T, V) and the last layer's source attention (B, T, S)."""
        y = self.positions(self.embedding(target_in) * math.sqrt(self.dim))
        weights = None
        for i, layer in enumerate(self.layers):
            y, weights = layer(y, *memory, need_weights=need_weights and i == len(self.layers) - 1)
        return self.out(y), weights

    def step(self, tokens: Tensor, state: TransformerState, memory: TransformerMemory) -> StepOutput:
        prefix = torch.cat([state.prefix, tokens[:, None]], 1)
        logits, weights = self.decode(prefix, memory, need_weights=True)
        return StepOutput(logits[:, -1], weights[:, -1], TransformerState(prefix))

    def forward(self, source: Tensor, target_in: Tensor) -> tuple[Tensor, Tensor]:
        logits, weights = self.decode(target_in, self.memory(source), need_weights=True)
        return logits, weights


def sequence_loss(logits: Tensor, target_out: Tensor) -> Tensor:
    """Cross-entropy per target token, <pad> ignored: logits (B, T, V), target_out (B, T)."""
    return F.cross_entropy(logits.flatten(0, 1), target_out.flatten(), ignore_index=PAD)


MODELS = {cls.__name__: cls for cls in (AttentionClassifier, TransformerClassifier, Seq2Seq, TransformerSeq2Seq)}


def build_text_model(name: str, config: dict) -> nn.Module:
    """Rebuild a text model from its class name and ``config`` (as checkpoints store them)."""
    if name not in MODELS:
        raise ValueError(f"unknown text model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name](**config)
