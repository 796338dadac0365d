"""Decoding checked against plain references on a small captioner trained on ShapesCaptions."""

import pytest
import torch

from vision_attention.models import ShowAttendTell
from vision_attention.models.decoding import SUPPRESSED, beam_search, greedy, sample
from vision_attention.vocab import UNK_ID


def reference_beam_search(model, features, beam_size, max_len, length_penalty=0.0, start=1, end=2, pad=0):
    """One image at a time, hypotheses as Python lists: the textbook algorithm, over the
    words a caption may hold (never <pad>, <start> or <unk>)."""
    memory = model.memory(features)
    beams = [(0.0, [], model.init_state(memory), False, [])]
    for _ in range(max_len):
        candidates = []
        for score, words, state, done, alphas in beams:
            if done:
                candidates.append((score, words + [pad], state, True, alphas + [torch.zeros_like(alphas[-1])]))
                continue
            out = model.step(torch.tensor([words[-1] if words else start]), state, memory)
            log_probs = torch.log_softmax(out.logits[0], -1)
            for word in range(len(log_probs)):
                if word in SUPPRESSED:
                    continue
                candidates.append(
                    (score + log_probs[word].item(), words + [word], out.state, word == end, alphas + [out.alpha[0]])
                )
        candidates.sort(key=lambda c: -c[0])
        beams = candidates[:beam_size]
        if all(b[3] for b in beams):
            break

    def rank(b):
        length = sum(w != pad for w in b[1])
        return b[0] / length**length_penalty if length_penalty else b[0]

    best = max(beams, key=rank)
    return best[1], best[0], torch.stack(best[4])


@pytest.mark.parametrize("beam_size,length_penalty", [(3, 0.0), (4, 1.0)])
def test_batched_beam_search_equals_per_image_beam_search(trained, beam_size, length_penalty):
    model, features = trained
    decoded = beam_search(model, features, beam_size, length_penalty=length_penalty, max_len=20)
    differ_from_greedy = 0
    greedy_tokens = greedy(model, features, max_len=20).tokens
    for i in range(len(features)):
        words, score, alphas = reference_beam_search(model, features[i : i + 1], beam_size, 20, length_penalty)
        got = decoded.tokens[i, : len(words)].tolist()
        assert got == words, f"image {i}"
        assert (decoded.tokens[i, len(words) :] == 0).all()
        assert abs(decoded.log_prob[i].item() - score) < 1e-4
        torch.testing.assert_close(decoded.alphas[i, : len(words)], alphas, atol=1e-5, rtol=1e-4)
        n = min(greedy_tokens.shape[1], decoded.tokens.shape[1])
        differ_from_greedy += int(not torch.equal(greedy_tokens[i, :n], decoded.tokens[i, :n]))
    assert decoded.alphas.shape[:2] == decoded.tokens.shape
    assert differ_from_greedy > 0, "the beams never reordered: the check above would be vacuous"


def test_beam_size_one_is_greedy_and_greedy_is_the_argmax_path(trained):
    model, features = trained
    g, b = greedy(model, features, max_len=20), beam_search(model, features, 1, max_len=20)
    assert torch.equal(g.tokens, b.tokens)
    torch.testing.assert_close(g.log_prob, b.log_prob)
    torch.testing.assert_close(g.alphas, b.alphas)
    # Re-scoring greedy's words with teacher forcing gives its log-probability.
    tokens = torch.cat([torch.ones(len(features), 1, dtype=torch.long), g.tokens], 1)
    logits = model(features, tokens).logits
    log_probs = torch.log_softmax(logits, -1).gather(2, tokens[:, 1:, None]).squeeze(2)
    real = torch.arange(g.tokens.shape[1])[None] < g.lengths[:, None]
    torch.testing.assert_close((log_probs * real).sum(1), g.log_prob, atol=1e-4, rtol=1e-4)
    assert (g.lengths > 1).all() and (g.tokens.gather(1, (g.lengths - 1)[:, None]) == 2).all()


def test_sampling_is_reproducible_and_cold_sampling_is_greedy(trained):
    model, features = trained
    a = sample(model, features, 1.0, max_len=20, generator=torch.Generator().manual_seed(1))
    b = sample(model, features, 1.0, max_len=20, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.tokens, b.tokens)
    cold = sample(model, features, 1e-4, max_len=20, generator=torch.Generator().manual_seed(2))
    assert torch.equal(cold.tokens, greedy(model, features, max_len=20).tokens)
    with pytest.raises(ValueError, match="temperature"):
        sample(model, features, 0.0)


@pytest.mark.parametrize("attention", ["soft", "hard"])
def test_beams_sharing_the_memory_search_as_if_it_were_copied(attention):
    torch.manual_seed(0)
    model = ShowAttendTell(20, feature_dim=12, embed_dim=8, hidden_dim=16, attn_dim=8, attention=attention).eval()
    features = torch.randn(4, 9, 12)
    with torch.no_grad():
        shared = beam_search(model, features, 3, max_len=6)
        model.beams_share_memory = False  # the instance now copies the memory per beam
        copied = beam_search(model, features, 3, max_len=6)
    assert torch.equal(shared.tokens, copied.tokens)
    torch.testing.assert_close(shared.log_prob, copied.log_prob)
    torch.testing.assert_close(shared.alphas, copied.alphas)


def test_no_decoder_emits_unk_even_where_the_model_prefers_it(trained):
    model, features = trained
    with torch.no_grad():
        model.out.bias[UNK_ID] += 50.0  # <unk> now the likeliest word at every step
    try:
        runs = {
            "greedy": lambda **kw: greedy(model, features, max_len=8, **kw),
            "beam": lambda **kw: beam_search(model, features, 3, max_len=8, **kw),
            "sample": lambda **kw: sample(
                model, features, 1.0, max_len=8, generator=torch.Generator().manual_seed(0), **kw
            ),
        }
        for name, run in runs.items():
            assert (run(suppressed=()).tokens == UNK_ID).any(), f"{name}: the check would be vacuous"
            decoded = run()
            for token in SUPPRESSED:
                if token != 0:  # <pad> does follow <end>
                    assert not (decoded.tokens == token).any(), f"{name} emitted {token}"
            real = torch.arange(decoded.tokens.shape[1])[None] < decoded.lengths[:, None]
            assert (decoded.tokens[real] != 0).all(), f"{name} emitted <pad> inside a caption"
    finally:
        with torch.no_grad():
            model.out.bias[UNK_ID] -= 50.0
