import math

import pytest
import torch
from torch import nn

from tests.helpers import assert_every_parameter_gets_gradient, assert_weights_are_distribution
from vision_attention.layers import MultiHeadAttention, ScaledDotProductAttention, causal_mask, padding_mask


def test_reference_path_matches_the_formula_loop():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
    context, weights = ScaledDotProductAttention()(q, k, v)
    for b in range(2):
        for t in range(3):
            scores = torch.tensor([float(q[b, t] @ k[b, s]) / math.sqrt(4) for s in range(5)])
            ref = torch.softmax(scores, 0)
            torch.testing.assert_close(weights[b, t], ref)
            torch.testing.assert_close(context[b, t], (ref[:, None] * v[b]).sum(0))


@pytest.mark.parametrize("causal", [False, True])
def test_fused_path_agrees_with_reference_path(causal):
    torch.manual_seed(0)
    attn = ScaledDotProductAttention()
    q, k, v = torch.randn(2, 3, 6, 8), torch.randn(2, 3, 6, 8), torch.randn(2, 3, 6, 8)
    mask = padding_mask(torch.tensor([6, 4]), 6)[:, None, None, :]  # (B, 1, 1, S)
    ref, weights = attn(q, k, v, mask, causal=causal, need_weights=True)
    fast, none = attn(q, k, v, mask, causal=causal, need_weights=False)
    assert none is None
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)
    allowed = mask & causal_mask(6) if causal else mask
    assert_weights_are_distribution(weights, allowed)


def test_scaled_dot_gradcheck_and_dropout_weights_give_context():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    mask = padding_mask(torch.tensor([3, 2]), 3)[:, None, :]
    assert torch.autograd.gradcheck(lambda a, b, c: ScaledDotProductAttention()(a, b, c, mask)[0], (q, k, v))
    attn = ScaledDotProductAttention(dropout=0.5).train()
    context, weights = attn(q, k, v)
    torch.testing.assert_close(context, weights @ v)


def copy_into_torch(ours: MultiHeadAttention) -> nn.MultiheadAttention:
    ref = nn.MultiheadAttention(ours.embed_dim, ours.num_heads, batch_first=True)
    e = ours.embed_dim
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    assert ref.in_proj_weight.shape == (3 * e, e)
    return ref


@pytest.mark.parametrize("average", [True, False])
def test_multihead_matches_torch_with_padding_and_causal_masks(average):
    torch.manual_seed(0)
    ours = MultiHeadAttention(16, 4).eval()
    ref = copy_into_torch(ours).eval()
    x = torch.randn(3, 6, 16)
    memory = torch.randn(3, 5, 16)
    lengths = torch.tensor([5, 3, 1])
    keep = padding_mask(lengths, 5)
    out, weights = ours(x, memory, memory, key_padding_mask=keep, average_attn_weights=average)
    ref_out, ref_weights = ref(x, memory, memory, key_padding_mask=~keep, average_attn_weights=average)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, ref_weights, atol=1e-5, rtol=1e-5)
    fast, none = ours(x, memory, memory, key_padding_mask=keep, need_weights=False)
    assert none is None
    torch.testing.assert_close(fast, ref_out, atol=1e-5, rtol=1e-5)
    # Self-attention with a causal mask: torch takes True = forbidden.
    out, weights = ours(x, causal=True)
    ref_out, _ = ref(x, x, x, attn_mask=~causal_mask(6))
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    assert (weights.triu(1) == 0).all()


def test_multihead_kdim_vdim_gradcheck_and_gradients():
    torch.manual_seed(0)
    mha = MultiHeadAttention(4, 2, kdim=3, vdim=5).double()
    q = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 2, 5, dtype=torch.float64, requires_grad=True)
    keep = padding_mask(torch.tensor([2, 1]), 2)
    out, weights = mha(q, k, v, key_padding_mask=keep)
    assert out.shape == (2, 3, 4) and weights.shape == (2, 3, 2)
    assert_weights_are_distribution(weights, keep[:, None, :])
    assert torch.autograd.gradcheck(lambda a, b, c: mha(a, b, c, key_padding_mask=keep)[0], (q, k, v))
    assert_every_parameter_gets_gradient(mha, mha(q, k, v, key_padding_mask=keep)[0].square().sum())


def test_multihead_rejects_indivisible_heads():
    with pytest.raises(ValueError, match="not divisible"):
        MultiHeadAttention(10, 3)
