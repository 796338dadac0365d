"""Multi-head attention (Vaswani et al. 2017, "Attention Is All You Need",
https://arxiv.org/abs/1706.03762, section 3.2.2).

Same parameters and results as ``torch.nn.MultiheadAttention(batch_first=True)``,
with separate ``q_proj``/``k_proj``/``v_proj``/``out_proj`` layers, this package's
mask polarity (True = may attend), and the fused kernel whenever the weights are
not asked for.

Legend: B batch, T query length, S key length, E model size, nh heads, hs head size.
"""

from __future__ import annotations

from torch import Tensor, nn

from .scaled_dot import ScaledDotProductAttention


class MultiHeadAttention(nn.Module):
    """Multi-head attention, batch first.

    Args:
        embed_dim: model size E (query size and output size).
        num_heads: number of heads nh; must divide ``embed_dim``.
        dropout: dropout on the attention weights during training.
        bias: whether the four projections have biases.
        kdim: key size (defaults to ``embed_dim``).
        vdim: value size (defaults to ``embed_dim``).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        kdim: int | None = None,
        vdim: int | None = None,
    ) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiHeadAttention: embed_dim={embed_dim} is not divisible by num_heads={num_heads}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(kdim or embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(vdim or embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.attention = ScaledDotProductAttention(dropout)

    def _split_heads(self, x: Tensor) -> Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, -1).transpose(1, 2)  # (B, nh, len, hs)

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        key_padding_mask: Tensor | None = None,
        attn_mask: Tensor | None = None,
        causal: bool = False,
        need_weights: bool = True,
        average_attn_weights: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """Args:
            query: (B, T, E).
            key: (B, S, kdim); defaults to ``query`` (self-attention).
            value: (B, S, vdim); defaults to ``key``.
            key_padding_mask: (B, S) bool, True at real keys.
            attn_mask: (T, S) or (B, T, S) bool, True = may attend.
            causal: forbid attending to later positions.
            need_weights: return the weights (reference path) or ``None`` (fused path).
            average_attn_weights: average the weights over heads, as torch does.

        Returns:
            ``(output, weights)``: (B, T, E) and (B, T, S), (B, nh, T, S) or ``None``.
        """
        key = query if key is None else key
        value = key if value is None else value
        q = self._split_heads(self.q_proj(query))  # (B, nh, T, hs)
        k = self._split_heads(self.k_proj(key))  # (B, nh, S, hs)
        v = self._split_heads(self.v_proj(value))  # (B, nh, S, hs)
        mask = None
        if attn_mask is not None:
            mask = attn_mask if attn_mask.dim() == 2 else attn_mask.unsqueeze(1)  # (B|1, 1|., T, S)
        if key_padding_mask is not None:
            keys_ok = key_padding_mask[:, None, None, :]  # (B, 1, 1, S)
            mask = keys_ok if mask is None else mask & keys_ok
        context, weights = self.attention(q, k, v, mask, causal, need_weights)  # (B, nh, T, hs)
        batch, _, steps, _ = context.shape
        output = self.out_proj(context.transpose(1, 2).reshape(batch, steps, self.embed_dim))  # (B, T, E)
        if weights is not None and average_attn_weights:
            weights = weights.mean(dim=1)  # (B, T, S)
        return output, weights
