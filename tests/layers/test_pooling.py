import math

import pytest
import torch

from tests.helpers import assert_every_parameter_gets_gradient, assert_weights_are_distribution
from vision_attention.layers import AttentionPooling, padding_mask


def reference_pooling(layer, x, length):
    """The tutorial's layer written out for one unpadded sequence (S, D)."""
    w = layer.weight.detach()
    bias = None if layer.bias is None else layer.bias.detach()
    scores = []
    for t in range(length):
        e = sum(x[t, d] * w[d] for d in range(x.shape[1]))
        if bias is not None:
            e = e + bias[t]
        scores.append(math.tanh(float(e)))
    total = sum(math.exp(s) for s in scores)
    weights = torch.tensor([math.exp(s) / total for s in scores], dtype=x.dtype)
    return (weights[:, None] * x[:length]).sum(0), weights


@pytest.mark.parametrize("max_len", [7, None])
def test_pooling_matches_loop_reference_on_padded_batch(max_len):
    torch.manual_seed(0)
    layer = AttentionPooling(5, max_len=max_len).double()
    if layer.bias is not None:
        torch.nn.init.normal_(layer.bias)
    lengths = torch.tensor([7, 3, 1])
    x = torch.randn(3, 7, 5, dtype=torch.float64)
    mask = padding_mask(lengths, 7)
    context, weights = layer(x, mask)
    assert context.shape == (3, 5) and weights.shape == (3, 7)
    assert_weights_are_distribution(weights, mask)
    for b, length in enumerate(lengths.tolist()):
        ref_context, ref_weights = reference_pooling(layer, x[b].detach(), length)
        torch.testing.assert_close(context[b], ref_context)
        torch.testing.assert_close(weights[b, :length], ref_weights)
    # Padding changes nothing: the short sequence alone gives the same result.
    alone, _ = layer(x[1:2, :3])
    torch.testing.assert_close(alone[0], context[1])


def test_pooling_gradcheck_and_gradients():
    torch.manual_seed(0)
    layer = AttentionPooling(3, max_len=4).double()
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    mask = padding_mask(torch.tensor([4, 2]), 4)
    assert torch.autograd.gradcheck(lambda inp: layer(inp, mask)[0], (x,))
    assert_every_parameter_gets_gradient(layer, layer(x, mask)[0].square().sum())


def test_pooling_rejects_sequences_longer_than_its_bias():
    with pytest.raises(ValueError, match="max_len=4"):
        AttentionPooling(3, max_len=4)(torch.randn(1, 5, 3))
