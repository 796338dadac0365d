"""The Transformer (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762) on the shared
multi-head attention: an encoder read out by attention pooling as a classifier, and the
encoder-decoder, which follows the step-decoder protocol of :mod:`.decoding`.

Legend: B batch, S source length, T target length, V vocabulary, D model size.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from ..configured import Configured
from ..layers import AttentionPooling, MultiHeadAttention, PositionalEncoding, padding_mask
from ..vocab import PAD_ID
from .attention_classifier import ClassifierOutput
from .registry import register_model
from .seq2seq import DecoderStep


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

    def forward(
        self, y: Tensor, memory: Tensor, memory_mask: Tensor, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        attended, _ = self.self_attention(y, causal=True, need_weights=False)
        y = self.norms[0](y + self.dropout(attended))
        attended, weights = self.cross_attention(y, memory, key_padding_mask=memory_mask, need_weights=need_weights)
        y = self.norms[1](y + self.dropout(attended))
        return self.norms[2](y + self.dropout(self.ff(y))), weights


class TransformerEncoder(nn.Module):
    """Scaled token embeddings + positions, then ``layers`` encoder layers."""

    def __init__(
        self, vocab_size: int, dim: int, heads: int, layers: int, ff_dim: int, dropout: float, max_len: int
    ) -> None:
        super().__init__()
        self.dim = dim
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=PAD_ID)
        nn.init.normal_(self.embedding.weight, std=dim**-0.5)  # x sqrt(dim) gives unit scale, as in the paper
        with torch.no_grad():
            self.embedding.weight[PAD_ID].zero_()
        self.positions = PositionalEncoding(dim, max_len, dropout=dropout)
        self.layers = nn.ModuleList(EncoderLayer(dim, heads, ff_dim, dropout) for _ in range(layers))

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        x = self.positions(self.embedding(tokens) * math.sqrt(self.dim))  # (B, S, D)
        for layer in self.layers:
            x = layer(x, mask)
        return x


@register_model
class TransformerClassifier(Configured, nn.Module):
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

    def __init__(
        self,
        vocab_size: int,
        dim: int = 64,
        heads: int = 4,
        layers: int = 2,
        ff_dim: int = 128,
        num_classes: int = 2,
        dropout: float = 0.1,
        max_len: int = 64,
    ) -> None:
        super().__init__()
        self.encoder = TransformerEncoder(vocab_size, dim, heads, layers, ff_dim, dropout, max_len)
        self.pool = AttentionPooling(dim)
        self.out = nn.Linear(dim, num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor) -> ClassifierOutput:
        mask = padding_mask(lengths, tokens.shape[1])
        pooled, weights = self.pool(self.encoder(tokens, mask), mask)
        return ClassifierOutput(self.out(pooled), weights)


class TransformerMemory(NamedTuple):
    states: Tensor  # (B, S, D) encoder output
    mask: Tensor  # (B, S) True at real positions


class TransformerState(NamedTuple):
    prefix: Tensor  # (B, t) the tokens so far, <start> first


@register_model
class TransformerSeq2Seq(Configured, nn.Module):
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

    def __init__(
        self,
        vocab_size: int,
        dim: int = 128,
        heads: int = 4,
        layers: int = 2,
        ff_dim: int = 256,
        dropout: float = 0.1,
        max_len: int = 64,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.encoder = TransformerEncoder(vocab_size, dim, heads, layers, ff_dim, dropout, max_len)
        self.embedding = self.encoder.embedding  # one vocabulary for source and target
        self.positions = PositionalEncoding(dim, max_len, dropout=dropout)
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, ff_dim, dropout) for _ in range(layers))
        self.out = nn.Linear(dim, vocab_size)
        self.out.weight = self.embedding.weight

    def memory(self, source: Tensor) -> TransformerMemory:
        mask = source != PAD_ID
        return TransformerMemory(self.encoder(source, mask), mask)

    def init_state(self, memory: TransformerMemory) -> TransformerState:
        return TransformerState(torch.zeros(len(memory[0]), 0, dtype=torch.long, device=memory[0].device))

    def decode(
        self, target_in: Tensor, memory: TransformerMemory, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """(B, T) target prefix -> logits (B, T, V) and the last layer's source attention (B, T, S)."""
        y = self.positions(self.embedding(target_in) * math.sqrt(self.dim))
        weights = None
        for i, layer in enumerate(self.layers):
            y, weights = layer(y, *memory, need_weights=need_weights and i == len(self.layers) - 1)
        return self.out(y), weights

    def step(self, tokens: Tensor, state: TransformerState, memory: TransformerMemory) -> DecoderStep:
        prefix = torch.cat([state.prefix, tokens[:, None]], 1)
        logits, weights = self.decode(prefix, memory, need_weights=True)
        return DecoderStep(logits[:, -1], weights[:, -1], TransformerState(prefix))

    def forward(self, source: Tensor, target_in: Tensor) -> tuple[Tensor, Tensor]:
        logits, weights = self.decode(target_in, self.memory(source), need_weights=True)
        return logits, weights
