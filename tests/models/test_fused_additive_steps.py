import pytest
import torch
from torch import nn

from vision_attention.layers import additive_scores, attend
from vision_attention.models.fused.additive_steps import StepwiseAdditiveAttention


def run(stepwise: bool, rows: list[int], use_weights: bool, values_grad: bool):
    """Attend over shrinking prefixes of one memory; return the outputs and every gradient."""
    torch.manual_seed(0)
    B, S, A, D = 5, 7, 4, 3
    features = torch.randn(B, S, D, dtype=torch.float64, requires_grad=values_grad)
    key_proj = nn.Linear(D, A, bias=False).double()
    v = nn.Linear(A, 1, bias=False).double()
    queries = [torch.randn(b, A, dtype=torch.float64, requires_grad=True) for b in rows]
    keys = key_proj(features)
    attention = StepwiseAdditiveAttention(keys, features, v.weight[0]) if stepwise else None
    outputs, loss = [], features.sum() * 0.5  # another use of the values, as an LSTM's initial state
    for query in queries:
        b = query.shape[0]
        context, weights = attention(query) if stepwise else attend(additive_scores(query, keys[:b], v), features[:b])
        outputs += [context, weights]
        loss = loss + (context * torch.randn_like(context)).sum()
        if use_weights:  # as the doubly stochastic penalty reads the weights
            loss = loss + (weights.square() * torch.randn_like(weights)).sum()
    inputs = [*queries, key_proj.weight, v.weight] + ([features] if values_grad else [])
    return outputs, torch.autograd.grad(loss, inputs)


@pytest.mark.parametrize("use_weights", [True, False])
@pytest.mark.parametrize("values_grad", [True, False])
def test_stepwise_attention_equals_scores_then_attend_in_values_and_gradients(use_weights, values_grad):
    rows = [5, 5, 4, 2, 1]  # captions ending one by one
    expected_out, expected_grads = run(False, rows, use_weights, values_grad)
    out, grads = run(True, rows, use_weights, values_grad)
    for a, b in zip(out, expected_out):
        torch.testing.assert_close(a, b)
    for a, b in zip(grads, expected_grads):
        torch.testing.assert_close(a, b)


def test_a_second_backward_through_a_retained_graph_starts_from_zero():
    torch.manual_seed(0)
    keys = torch.randn(3, 4, 2, dtype=torch.float64, requires_grad=True)
    values = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    attention = StepwiseAdditiveAttention(keys, values, torch.randn(2, dtype=torch.float64))
    loss = sum(attention(torch.randn(b, 2, dtype=torch.float64))[0].sum() for b in (3, 2))
    first = torch.autograd.grad(loss, [keys, values], retain_graph=True)
    second = torch.autograd.grad(loss, [keys, values])
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b)


def test_stepwise_attention_trains_under_mixed_precision():
    torch.manual_seed(0)
    key_proj, v = nn.Linear(6, 4, bias=False), nn.Linear(4, 1, bias=False)
    features = torch.randn(3, 5, 6, requires_grad=True)
    query = torch.randn(3, 4, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        keys = key_proj(features)  # bfloat16 under autocast; the features stay float32
        attention = StepwiseAdditiveAttention(keys, features, v.weight[0])
        context, _weights = attention(query)
        loss = context.float().sum() + attention(query[:2])[1].float().square().sum()
    loss.backward()
    for grad in (features.grad, query.grad, key_proj.weight.grad, v.weight.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
