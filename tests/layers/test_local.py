import math

import pytest
import torch

from tests.helpers import assert_every_parameter_gets_gradient, assert_weights_are_distribution
from vision_attention.layers import LocalAttention, padding_mask


def reference_local(attn, query, keys, values, length, t=None):
    """Luong eq. 7/10 for one query, written out with loops."""
    Wa = attn.align.key_proj.weight.detach()
    if attn.mode == "predictive":
        hidden = torch.tanh(attn.position_hidden.weight.detach() @ query)
        p = length / (1 + math.exp(-float(attn.position_out.weight.detach()[0] @ hidden)))
    else:
        p = float(t)
    window = [s for s in range(length) if abs(s - p) <= attn.window]
    weights = torch.zeros(keys.shape[0], dtype=keys.dtype)
    if not window:  # the window lies past the end of the sequence
        return (weights[:, None] * values).sum(0), weights
    scores = torch.stack([query @ (Wa @ keys[s]) for s in window])
    align = torch.softmax(scores, 0)
    sigma = attn.window / 2
    for i, s in enumerate(window):
        factor = math.exp(-((s - p) ** 2) / (2 * sigma**2)) if attn.gaussian else 1.0
        weights[s] = align[i] * factor
    return (weights[:, None] * values).sum(0), weights


@pytest.mark.parametrize("mode", ["monotonic", "predictive"])
def test_local_matches_loop_reference_and_is_zero_outside_the_window(mode):
    torch.manual_seed(0)
    attn = LocalAttention(4, 6, mode=mode, window=2).double()
    steps, src = 9, 12
    query = torch.randn(3, steps, 4, dtype=torch.float64)
    keys = torch.randn(3, src, 6, dtype=torch.float64)
    lengths = torch.tensor([12, 7, 3])
    mask = padding_mask(lengths, src)
    context, weights = attn(query, keys, mask=mask)  # steps 0..T-1 at once
    assert context.shape == (3, steps, 6) and weights.shape == (3, steps, src)
    for b, length in enumerate(lengths.tolist()):
        for t in range(steps):
            ref_context, ref_weights = reference_local(attn, query[b, t], keys[b], keys[b], length, t)
            torch.testing.assert_close(weights[b, t], ref_weights)
            torch.testing.assert_close(context[b, t], ref_context)
    assert (weights[~mask[:, None, :].expand_as(weights)] == 0).all()
    if mode == "monotonic":
        positions = torch.arange(src)
        outside = (positions[None, :] - torch.arange(steps)[:, None]).abs() > 2  # (T, S)
        assert (weights[:, outside] == 0).all()
        # Steps whose window still holds a real position get a distribution over it.
        live = (torch.arange(steps)[None, :] - 2) < lengths[:, None]  # (B, T)
        assert_weights_are_distribution(weights[live], (mask[:, None, :] & ~outside)[live])
    else:
        assert (weights.sum(-1) <= 1 + 1e-12).all()


def test_single_step_equals_the_matching_step_of_a_sequence():
    torch.manual_seed(0)
    attn = LocalAttention(4, 4, mode="monotonic", window=1, score="dot")
    query, keys = torch.randn(2, 5, 4), torch.randn(2, 6, 4)
    _, all_weights = attn(query, keys)
    for t in range(5):
        _, weights = attn(query[:, t], keys, position=t)
        torch.testing.assert_close(weights, all_weights[:, t])
        assert (weights[:, [s for s in range(6) if abs(s - t) > 1]] == 0).all()
    with pytest.raises(ValueError, match="position=t"):
        attn(query[:, 0], keys)


@pytest.mark.parametrize("mode", ["monotonic", "predictive"])
def test_local_gradcheck_and_gradients(mode):
    torch.manual_seed(0)
    attn = LocalAttention(3, 3, mode=mode, window=2, score="concat").double()
    query = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    keys = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    mask = padding_mask(torch.tensor([5, 4]), 5)
    assert torch.autograd.gradcheck(lambda q, k: attn(q, k, mask=mask)[0], (query, keys))
    # local-p learns where to look: the position predictor gets a gradient through the Gaussian.
    assert_every_parameter_gets_gradient(attn, attn(query, keys, mask=mask)[0].square().sum())
