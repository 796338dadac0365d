import torch

from vision_attention.layers import attend, causal_mask, masked_softmax, padding_mask


def test_padding_mask_marks_real_positions():
    mask = padding_mask(torch.tensor([2, 0, 3]), max_len=4)
    expected = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0]], dtype=torch.bool)
    assert torch.equal(mask, expected)
    assert padding_mask(torch.tensor([1, 3])).shape == (2, 3)


def test_causal_mask_lets_step_t_see_up_to_t():
    assert torch.equal(causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool))
    # More keys than queries (a cache): the queries are the last steps.
    assert torch.equal(causal_mask(2, 4), torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool))


def test_masked_softmax_zeroes_masked_and_empty_rows_without_nan():
    scores = torch.randn(3, 5, requires_grad=True)
    mask = padding_mask(torch.tensor([5, 2, 0]), 5)
    weights = masked_softmax(scores, mask)
    assert (weights[~mask] == 0).all()
    torch.testing.assert_close(weights[:2].sum(-1), torch.ones(2))
    assert torch.equal(weights[2], torch.zeros(5))
    torch.testing.assert_close(weights[1, :2], torch.softmax(scores[1, :2], -1))
    weights.square().sum().backward()
    assert torch.isfinite(scores.grad).all()
    assert (scores.grad[~mask] == 0).all()


def test_attend_is_weights_times_values():
    scores, values = torch.randn(2, 3, 4), torch.randn(2, 4, 6)
    context, weights = attend(scores, values)
    torch.testing.assert_close(context, torch.einsum("bts,bsd->btd", weights, values))
    context, weights = attend(scores[:, 0], values)
    torch.testing.assert_close(context, torch.einsum("bs,bsd->bd", weights, values))
