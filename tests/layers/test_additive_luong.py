import pytest
import torch

from tests.helpers import assert_every_parameter_gets_gradient, assert_weights_are_distribution
from vision_attention.layers import AdditiveAttention, LuongAttention, additive, padding_mask


def loop_attention(score_fn, query, keys, values, length):
    """Plain reference: score every key, softmax over the real ones, weigh the values."""
    scores = torch.stack([score_fn(query, keys[s]) for s in range(length)])
    weights = torch.softmax(scores, 0)
    return (weights[:, None] * values[:length]).sum(0), weights


def additive_score(attn):
    W, b = attn.query_proj.weight.detach(), attn.query_proj.bias.detach()
    U, v = attn.key_proj.weight.detach(), attn.v.weight.detach()[0]
    return lambda q, k: v @ torch.tanh(W @ q + b + U @ k)


def luong_score(attn):
    if attn.score == "dot":
        return lambda q, k: q @ k
    if attn.score == "general":
        Wa = attn.key_proj.weight.detach()
        return lambda q, k: q @ (Wa @ k)
    W1, W2 = attn.query_proj.weight.detach(), attn.key_proj.weight.detach()
    v = attn.v.weight.detach()[0]
    return lambda q, k: v @ torch.tanh(W1 @ q + W2 @ k)


CASES = [
    ("additive", lambda: AdditiveAttention(4, 6, 5), additive_score),
    ("dot", lambda: LuongAttention(6, 6, "dot"), luong_score),
    ("general", lambda: LuongAttention(4, 6, "general"), luong_score),
    ("concat", lambda: LuongAttention(4, 6, "concat", attn_dim=5), luong_score),
]


@pytest.mark.parametrize("name,build,score_of", CASES, ids=[c[0] for c in CASES])
def test_matches_loop_reference_with_padding(name, build, score_of):
    torch.manual_seed(0)
    attn = build().double()
    query_dim = 6 if name == "dot" else 4
    query = torch.randn(3, query_dim, dtype=torch.float64)
    keys = torch.randn(3, 7, 6, dtype=torch.float64)
    values = torch.randn(3, 7, 2, dtype=torch.float64)
    lengths = torch.tensor([7, 4, 1])
    mask = padding_mask(lengths, 7)
    context, weights = attn(query, keys, values, mask)
    assert context.shape == (3, 2) and weights.shape == (3, 7)
    assert_weights_are_distribution(weights, mask)
    score_fn = score_of(attn)
    for b, length in enumerate(lengths.tolist()):
        ref_context, ref_weights = loop_attention(score_fn, query[b], keys[b], values[b], length)
        torch.testing.assert_close(context[b], ref_context)
        torch.testing.assert_close(weights[b, :length], ref_weights)


@pytest.mark.parametrize("name,build,score_of", CASES, ids=[c[0] for c in CASES])
def test_precomputed_keys_and_many_queries_agree_with_single_steps(name, build, score_of):
    torch.manual_seed(1)
    attn = build()
    query_dim = 6 if name == "dot" else 4
    queries = torch.randn(2, 3, query_dim)
    keys = torch.randn(2, 5, 6)
    mask = padding_mask(torch.tensor([5, 3]), 5)
    projected = attn.project_keys(keys)
    all_context, all_weights = attn(queries, keys, mask=mask)  # (B, T, D)
    for t in range(3):
        context, weights = attn(queries[:, t], keys, mask=mask, projected_keys=projected)
        torch.testing.assert_close(context, all_context[:, t])
        torch.testing.assert_close(weights, all_weights[:, t])
    assert (all_weights[1, :, 3:] == 0).all()


@pytest.mark.parametrize("name,build,score_of", CASES, ids=[c[0] for c in CASES])
def test_groups_of_queries_share_their_sequence_keys_as_if_copied(name, build, score_of):
    torch.manual_seed(2)
    attn = build().double()
    query_dim = 6 if name == "dot" else 4
    queries = torch.randn(2 * 3, query_dim, dtype=torch.float64)  # 3 consecutive rows (beams) per sequence
    keys, values = torch.randn(2, 5, 6, dtype=torch.float64), torch.randn(2, 5, 4, dtype=torch.float64)
    mask = padding_mask(torch.tensor([5, 2]), 5)
    copied = [t.repeat_interleave(3, dim=0) for t in (keys, values, mask)]
    expected_context, expected_weights = attn(queries, *copied)
    context, weights = attn(queries, keys, values, mask, projected_keys=attn.project_keys(keys))
    torch.testing.assert_close(context, expected_context)
    torch.testing.assert_close(weights, expected_weights)
    with pytest.raises(ValueError, match="not a multiple"):
        attn(queries[:5], keys, values, mask)


@pytest.mark.parametrize("name,build,score_of", CASES, ids=[c[0] for c in CASES])
def test_gradcheck_and_every_parameter_gets_gradient(name, build, score_of):
    torch.manual_seed(2)
    attn = build().double()
    query_dim = 6 if name == "dot" else 4
    query = torch.randn(2, query_dim, dtype=torch.float64, requires_grad=True)
    keys = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    mask = padding_mask(torch.tensor([3, 2]), 3)
    assert torch.autograd.gradcheck(lambda q, k: attn(q, k, mask=mask)[0], (query, keys))
    if any(True for _ in attn.parameters()):
        assert_every_parameter_gets_gradient(attn, attn(query, keys, mask=mask)[0].square().sum())


def test_luong_rejects_bad_configuration():
    with pytest.raises(ValueError, match="dot score needs"):
        LuongAttention(4, 6, "dot")
    with pytest.raises(ValueError, match="score must be"):
        LuongAttention(4, 4, "bilinear")


@pytest.mark.parametrize("query_steps", [None, 3])
def test_additive_scores_in_cpu_blocks_equal_the_whole_batch_with_gradients(monkeypatch, query_steps):
    torch.manual_seed(0)
    v = torch.nn.Linear(8, 1, bias=False)
    keys = torch.randn(7, 5, 8, requires_grad=True)
    query = torch.randn(7, *([query_steps] if query_steps else []), 8, requires_grad=True)

    def scores_and_grads():
        scores = additive.additive_scores(query, keys, v)
        grads = torch.autograd.grad(
            (scores * torch.arange(scores.numel()).view_as(scores)).sum(), (query, keys, v.weight)
        )
        return scores, grads

    whole, whole_grads = scores_and_grads()
    expected = v(
        torch.tanh(keys.unsqueeze(1) + query.unsqueeze(-2)) if query_steps else torch.tanh(keys + query.unsqueeze(1))
    )
    torch.testing.assert_close(whole, expected.squeeze(-1))
    monkeypatch.setattr(
        additive, "CPU_BLOCK_ELEMENTS", 2 * 5 * 8 * (query_steps or 1)
    )  # blocks of 2 sequences: 4 blocks
    blocked, blocked_grads = scores_and_grads()
    torch.testing.assert_close(blocked, whole)
    for a, b in zip(blocked_grads, whole_grads):
        torch.testing.assert_close(a, b)
