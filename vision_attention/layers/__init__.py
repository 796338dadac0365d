"""The shared attention core. Every attention module returns ``(context, weights)``;
masks are bool with True = may attend, built by :func:`padding_mask` / :func:`causal_mask`."""

from .additive import AdditiveAttention, additive_scores
from .attend import KeyedAttention, attend, masked_softmax, weighted_sum
from .gaussian import GaussianAttention, GaussianWindow, filterbank, place_window
from .local import LocalAttention
from .luong import LuongAttention
from .masks import causal_mask, padding_mask
from .multihead import MultiHeadAttention
from .pooling import AttentionPooling
from .positional import PositionalEncoding, sinusoids
from .recurrent import lstm_update
from .scaled_dot import ScaledDotProductAttention
from .spatial import HardAttention, HardAttentionOutput, SoftAttention, sample_location

__all__ = [
    "AdditiveAttention",
    "AttentionPooling",
    "GaussianAttention",
    "GaussianWindow",
    "HardAttention",
    "HardAttentionOutput",
    "KeyedAttention",
    "LocalAttention",
    "LuongAttention",
    "MultiHeadAttention",
    "PositionalEncoding",
    "ScaledDotProductAttention",
    "SoftAttention",
    "additive_scores",
    "attend",
    "causal_mask",
    "filterbank",
    "lstm_update",
    "masked_softmax",
    "padding_mask",
    "place_window",
    "sample_location",
    "sinusoids",
    "weighted_sum",
]
