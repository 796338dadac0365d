import contextlib

import pytest
import torch

from tests.helpers import assert_every_parameter_gets_gradient
from vision_attention.layers import LuongAttention
from vision_attention.models import ShowAttendTell, caption_loss, hard_attention_loss
from vision_attention.models.backbones import Backbone
from vision_attention.models.fused import fused_off


def tiny_model(attention="soft", gating=True, encoder=True):
    """attention "luong": a second implementation of the attention contract (Luong's general
    score, which has no fused path), passed as a module."""
    torch.manual_seed(0)
    backbone = Backbone("tiny", grid=None, width=8) if encoder else None
    feature_dim = backbone.out_dim if encoder else 6
    if attention == "luong":
        attention = LuongAttention(12, feature_dim, "general")
    return ShowAttendTell(
        20,
        backbone,
        feature_dim=None if encoder else 6,
        embed_dim=8,
        hidden_dim=12,
        attn_dim=10,
        attention=attention,
        dropout=0.0,
        gating=gating,
    )


def captions_batch():
    captions = torch.tensor([[1, 5, 6, 7, 2, 0], [1, 8, 2, 0, 0, 0], [1, 9, 9, 9, 9, 2]])
    return captions, torch.tensor([5, 3, 6])


@pytest.mark.parametrize("attention,gating", [("soft", True), ("soft", False), ("hard", True), ("luong", True)])
def test_step_by_step_equals_the_teacher_forced_pass(attention, gating):
    model = tiny_model(attention, gating).eval()
    features = model.encode(torch.rand(3, 3, 32, 32))  # (3, 16, 18)
    captions, _ = captions_batch()
    full = model(features, captions)
    memory = model.memory(features)
    state = model.init_state(memory)
    for t in range(captions.shape[1] - 1):
        out = model.step(captions[:, t], state, memory)
        torch.testing.assert_close(out.logits, full.logits[:, t], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out.alpha, full.alphas[:, t], atol=1e-6, rtol=1e-5)
        state = out.state
    # With sampling, both paths draw the same locations from the same generator.
    if attention == "hard":
        sampled = model(features, captions, sample_attention=True, generator=torch.Generator().manual_seed(3))
        gen, state = torch.Generator().manual_seed(3), model.init_state(memory)
        for t in range(captions.shape[1] - 1):
            out = model.step(captions[:, t], state, memory, sample_attention=True, generator=gen)
            torch.testing.assert_close(out.logits, sampled.logits[:, t], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(out.log_prob, sampled.log_probs[:, t])
            state = out.state


@pytest.mark.parametrize("attention,gating", [("soft", True), ("soft", False), ("hard", True), ("luong", True)])
def test_stopping_each_caption_at_its_end_changes_nothing_on_its_words(attention, gating, monkeypatch):
    # Hard attention samples its mode here, so that both passes attend to the same places.
    monkeypatch.setattr(torch, "multinomial", lambda weights, n, generator=None: weights.argmax(-1, keepdim=True))
    model = tiny_model(attention, gating).train().double()  # float64: equal up to rounding
    images = torch.rand(3, 3, 32, 32, dtype=torch.float64)
    captions, lengths = captions_batch()  # the longest caption is the last: the pass reorders the batch
    real = torch.arange(5)[None, :] < (lengths - 1)[:, None]  # (B, T)
    expectation = torch.tensor([False, True, False])
    outs, grads = [], []
    for given in (None, lengths):
        torch.manual_seed(1)
        out = model(model.encode(images), captions, expectation=expectation, lengths=given)
        loss, nll, _ = caption_loss(out.logits, captions[:, 1:], out.alphas, lengths)
        if attention == "hard":
            loss = loss + hard_attention_loss(nll, out.log_probs, out.entropies, lengths, baseline=-3.0).mean()
        grads.append(torch.autograd.grad(loss, list(model.parameters())))
        outs.append(out)
    full, stopped = outs
    for name in ("logits", "alphas", "log_probs", "entropies"):
        if getattr(full, name) is None:
            continue
        torch.testing.assert_close(getattr(stopped, name)[real], getattr(full, name)[real])
        assert (getattr(stopped, name)[~real] == 0).all(), name
    if attention == "hard":
        assert (stopped.log_probs[1] == 0).all() and (stopped.log_probs[0, :4] != 0).all()
    for a, b in zip(grads[0], grads[1]):
        torch.testing.assert_close(b, a)


@pytest.mark.parametrize("attention,gating", [("soft", True), ("soft", False), ("hard", True), ("luong", True)])
def test_the_fused_engine_equals_the_paper_loop_in_values_and_gradients(attention, gating, monkeypatch):
    """forward's own loop (the engines off) is the reference the fused engine is held to."""
    monkeypatch.setattr(torch, "multinomial", lambda weights, n, generator=None: weights.argmax(-1, keepdim=True))
    model = tiny_model(attention, gating).train().double()
    images = torch.rand(3, 3, 32, 32, dtype=torch.float64)
    captions, lengths = captions_batch()
    expectation = torch.tensor([False, True, False])
    results = []
    for engine in (contextlib.nullcontext, fused_off):
        with engine():
            out = model(model.encode(images), captions, expectation=expectation, lengths=lengths)
        loss, nll, _ = caption_loss(out.logits, captions[:, 1:], out.alphas, lengths)
        if attention == "hard":
            loss = loss + hard_attention_loss(nll, out.log_probs, out.entropies, lengths, baseline=-3.0).mean()
        results.append((out, torch.autograd.grad(loss, list(model.parameters()))))
    (fused, fused_grads), (plain, plain_grads) = results
    for name in ("logits", "alphas", "log_probs", "entropies"):
        if attention != "hard" and name in ("log_probs", "entropies"):
            assert getattr(fused, name) is None and getattr(plain, name) is None
            continue
        torch.testing.assert_close(getattr(fused, name), getattr(plain, name), msg=name)
    for (name, _), a, b in zip(model.named_parameters(), fused_grads, plain_grads):
        torch.testing.assert_close(a, b, msg=name)


@pytest.mark.parametrize("attention", ["soft", "hard", "luong"])
def test_every_parameter_learns_and_nothing_is_nan(attention):
    model = tiny_model(attention).train()
    images = torch.rand(3, 3, 32, 32)
    captions, lengths = captions_batch()
    out = model(model.encode(images), captions, expectation=torch.tensor([False, True, False]))
    assert out.logits.shape == (3, 5, 20) and out.alphas.shape == (3, 5, 16)
    loss, nll, _penalty = caption_loss(out.logits, captions[:, 1:], out.alphas, lengths)
    if attention == "hard":
        assert out.log_probs.shape == (3, 5) and (out.log_probs[1] == 0).all()
        loss = loss + hard_attention_loss(nll, out.log_probs, out.entropies, lengths, baseline=-3.0).mean()
    assert torch.isfinite(loss)
    assert_every_parameter_gets_gradient(model, loss)


def test_loss_ignores_padding_and_matches_the_paper_objective():
    torch.manual_seed(0)
    logits, alphas = torch.randn(3, 5, 20), torch.softmax(torch.randn(3, 5, 16), -1)
    captions, lengths = captions_batch()
    loss, nll, penalty = caption_loss(logits, captions[:, 1:], alphas, lengths, doubly_stochastic=0.7)
    words, expected_nll, expected_penalty = 0, [], []
    for b in range(3):
        steps = int(lengths[b]) - 1
        words += steps
        expected_nll.append(sum(-torch.log_softmax(logits[b, t], -1)[captions[b, t + 1]] for t in range(steps)))
        expected_penalty.append(sum((1 - alphas[b, :steps, i].sum()) ** 2 for i in range(16)))
    torch.testing.assert_close(nll.sum(1), torch.stack(expected_nll))
    assert (nll[1, 2:] == 0).all()  # per word, 0 after caption 1 has ended
    torch.testing.assert_close(penalty, torch.stack(expected_penalty))
    torch.testing.assert_close(loss, (sum(expected_nll) + 0.7 * sum(expected_penalty)) / words)
    garbage = logits.clone()
    garbage[1, 2:] = 100.0  # after caption 1 has ended
    assert torch.equal(
        caption_loss(garbage, captions[:, 1:], alphas, lengths, 0.0)[0],
        caption_loss(logits, captions[:, 1:], alphas, lengths, 0.0)[0],
    )


def test_reinforce_estimator_is_unbiased_on_a_toy_problem():
    """One decoding step, four locations: the exact gradient of the bound
    L_s = sum_s p(s|a) log p(y|s,a) by enumeration equals the mean of the paper's estimator."""
    model = tiny_model("hard", encoder=False).double().train()
    features = torch.randn(1, 4, 6, dtype=torch.float64)
    captions = torch.tensor([[1, 7]])  # predict word 7 in one step
    lengths = torch.tensor([2])
    params = [p for p in model.parameters() if p.requires_grad]

    # Exact: enumerate the location; log p(s|a) from the attention distribution.
    memory = model.memory(features)
    state = model.init_state(memory)
    h = state.h
    _, alpha = model.attention(h, features, projected_keys=memory.keys)  # hard attention samples from these weights
    bound = 0.0
    for s in range(4):
        one_hot = torch.zeros(1, 4, dtype=torch.float64)
        one_hot[0, s] = 1.0
        z = torch.sigmoid(model.gate(h)) * features[:, s]
        embedded = model.embed(captions[:, 0])
        h1, _ = model.lstm(torch.cat([embedded, z], 1), state)
        log_p_y = torch.log_softmax(model.readout(embedded, h1, z), -1)[0, 7]
        bound = bound + alpha[0, s] * log_p_y
    exact = torch.autograd.grad(bound, params)

    # The estimator of one sample, grad log p(y|s) + (log p(y|s) - b) grad log p(s), depends
    # only on its location s: its expectation is sum_s p(s) g(s), computed exactly from one
    # sample per location of a batch drawn by the model.
    n = 400
    out = model(
        features.expand(n, 4, 6),
        captions.expand(n, 2),
        sample_attention=True,
        generator=torch.Generator().manual_seed(0),
    )
    _, nll, _ = caption_loss(out.logits, captions.expand(n, 2)[:, 1:], out.alphas, lengths.expand(n), 0.0)
    location = (out.log_probs[:, 0, None] - alpha.detach().log()).abs().argmin(1)  # (n,)
    expected = [torch.zeros_like(p) for p in params]
    for s in range(4):
        i = int((location == s).nonzero()[0])
        surrogate = (
            -nll[i].sum()
            - hard_attention_loss(
                nll[i : i + 1],
                out.log_probs[i : i + 1],
                out.entropies[i : i + 1],
                lengths,
                baseline=-2.0,
                entropy_weight=0.0,
            ).sum()
        )
        grads = torch.autograd.grad(surrogate, params, retain_graph=True)
        expected = [e + alpha[0, s].detach() * g for e, g in zip(expected, grads)]
    for e, g in zip(expected, exact):
        torch.testing.assert_close(e, g, atol=1e-10, rtol=1e-7)
    # And the plain average over the batch is that expectation plus sampling noise.
    average = torch.autograd.grad(
        -nll.sum(1).mean()
        - hard_attention_loss(
            nll, out.log_probs, out.entropies, lengths.expand(n), baseline=-2.0, entropy_weight=0.0
        ).mean(),
        params,
    )
    scale = max(g.abs().max().item() for g in exact)
    assert max((a - g).abs().max().item() for a, g in zip(average, exact)) < scale


@pytest.mark.parametrize("reward_to_go", [False, True])
def test_reinforce_estimator_is_unbiased_over_two_steps(reward_to_go, monkeypatch):
    """Two decoding steps, three locations: the bound L_s = sum_s p(s1) p(s2|s1) log p(y|s,a),
    enumerated over all nine location pairs, has the gradient that the estimator has on
    average, whether each location is rewarded by the whole caption or by the words from
    its step on (reward to go: s2 comes after y1 was predicted, so y1 drops out)."""
    model = tiny_model("hard", encoder=False).double().train()
    features = torch.randn(1, 3, 6, dtype=torch.float64).expand(9, 3, 6)
    captions, lengths = torch.tensor([[1, 7, 2]]).expand(9, 3), torch.tensor([3]).expand(9)
    pairs = torch.cartesian_prod(torch.arange(3), torch.arange(3))  # (9, 2): every (s1, s2)
    forced = iter(pairs.T.unsqueeze(-1))  # torch.multinomial returns s1 then s2 for the 9 rows
    monkeypatch.setattr(torch, "multinomial", lambda weights, n, generator=None: next(forced))
    out = model(features, captions, sample_attention=True)
    torch.testing.assert_close(out.log_probs, out.alphas.log().gather(2, pairs.unsqueeze(-1)).squeeze(-1))  # forced
    _, nll, _ = caption_loss(out.logits, captions[:, 1:], out.alphas, lengths, 0.0)
    log_p_s = out.log_probs.sum(1)  # (9,) log p(s1) + log p(s2 | s1)
    params = [p for p in model.parameters() if p.requires_grad]
    exact = torch.autograd.grad((log_p_s.exp() * -nll.sum(1)).sum(), params, retain_graph=True)
    baseline = torch.tensor([[-2.0, -1.0]], dtype=torch.float64) if reward_to_go else -2.0
    surrogate = -nll.sum(1) - hard_attention_loss(
        nll, out.log_probs, out.entropies, lengths, baseline, entropy_weight=0.0, reward_to_go=reward_to_go
    )  # (9,)
    weighted = (log_p_s.exp().detach() * surrogate).sum()  # sum over s of p(s) x the estimate at s
    for e, g in zip(torch.autograd.grad(weighted, params), exact):
        torch.testing.assert_close(e, g, atol=1e-10, rtol=1e-7)


def test_config_round_trip_rebuilds_the_same_architecture():
    model = tiny_model()
    again = ShowAttendTell.from_config(model.config)
    again.load_state_dict(model.state_dict())
    assert again.config == model.config
    with pytest.raises(ValueError, match="feature_dim"):
        ShowAttendTell(10)
    with pytest.raises(ValueError, match="'soft', 'hard' or an attention module"):
        ShowAttendTell(10, feature_dim=4, attention="medium")


def test_a_module_of_its_own_beam_searches_and_says_it_cannot_be_rebuilt_from_its_config():
    from vision_attention.models.decoding import beam_search

    model = tiny_model("luong").eval()
    features = model.encode(torch.rand(2, 3, 32, 32))
    decoded = beam_search(model, features, beam_size=3, max_len=5)
    assert decoded.tokens.shape[0] == 2 and decoded.alphas.shape[-1] == features.shape[1]
    assert model.config["attention"] == "module:LuongAttention"
    with pytest.raises(ValueError, match="a module of its own \\(LuongAttention\\)"):
        ShowAttendTell.from_config(model.config)


def test_reinforce_terms_update_the_baseline_of_each_caption_length_from_sampled_captions_only():
    from vision_attention.models.show_attend_tell import reinforce_terms

    word_nll = torch.tensor([[1.0, 2.0, 0.5], [0.5, 0.5, 0.0], [3.0, 1.0, 1.0]])  # 0 at padding
    lengths = torch.tensor([4, 3, 4])  # with <start> and <end>: 3, 2 and 3 words
    log_probs, entropies = torch.full((3, 3), -1.0, requires_grad=True), torch.ones(3, 3)
    sampled = torch.tensor([True, True, False])  # the third used the expected context
    baseline = torch.zeros(64)
    baseline[3] = -2.0
    terms = reinforce_terms(word_nll, log_probs, entropies, lengths, sampled, baseline, decay=0.9, entropy_weight=0.0)
    # caption 0 sums 3 words: reward -3.5; caption 1 sums 2: reward -1.0; caption 2 updates nothing
    assert torch.allclose(baseline[3], torch.tensor(0.9 * -2.0 + 0.1 * -3.5))
    assert torch.allclose(baseline[2], torch.tensor(0.1 * -1.0)) and (baseline[4:] == 0).all()
    # against the baseline before the update: -(R - b) sum_t log p(s_t) over real steps
    torch.testing.assert_close(terms, torch.tensor([-(-3.5 + 2.0) * -3.0, -(-1.0 - 0.0) * -2.0, -(-5.0 + 2.0) * -3.0]))
