"""Constrained beam search (Anderson et al. 2017) against plain beam search, a per-image
textbook version of the algorithm, and a toy decoder whose best captions are known."""

import math
from itertools import product
from typing import NamedTuple

import pytest
import torch
from torch import nn

from vision_attention.models.constrained_decoding import constrained_beam_search
from vision_attention.models.decoding import SUPPRESSED, beam_search
from vision_attention.models.ensemble import Ensemble


def _vocab(model):
    return model.out.out_features


def reference_constrained(model, features, constraints, banned, beam_size, max_len, start=1, end=2, pad=0):
    """One image at a time, hypotheses as Python lists, one list of K per constraint state:
    the algorithm as the paper states it. ``constraints``: list of sets of word ids."""
    count = len(constraints)
    bits = lambda w: sum(1 << c for c, words in enumerate(constraints) if w in words)
    memory = model.memory(features)
    beams = {s: [] for s in range(2**count)}
    beams[0] = [(0.0, [], model.init_state(memory), False)]
    for _ in range(max_len):
        arriving = {s: [] for s in beams}
        for s, hyps in beams.items():
            for score, words, state, done in hyps:
                if done:
                    arriving[s].append((score, words + [pad], state, True))
                    continue
                out = model.step(torch.tensor([words[-1] if words else start]), state, memory)
                log_probs = torch.log_softmax(out.logits[0].float(), -1)
                for w in range(len(log_probs)):
                    if w in SUPPRESSED or w in banned or log_probs[w] == -math.inf:
                        continue
                    arriving[s | bits(w)].append((score + log_probs[w].item(), words + [w], out.state, w == end))
        beams = {s: sorted(c, key=lambda h: -h[0])[:beam_size] for s, c in arriving.items()}
        if all(h[3] for hyps in beams.values() for h in hyps):
            break
    final = beams[2**count - 1]
    pool = final or [h for hyps in beams.values() for h in hyps]
    best = max(pool, key=lambda h: h[0])
    return best[1], best[0], bool(final)


def _mask(batch_constraints, vocab):
    """[[set of ids per constraint] per image] -> (B, C, V) bool."""
    count = max(len(c) for c in batch_constraints)
    mask = torch.zeros(len(batch_constraints), count, vocab, dtype=torch.bool)
    for b, constraints in enumerate(batch_constraints):
        for c, words in enumerate(constraints):
            mask[b, c, list(words)] = True
    return mask


def test_with_no_constraints_it_is_plain_beam_search(trained):
    """Caption for caption, score for score, attention for attention: with no constraint at
    all, and with constraint slots that hold no word."""
    model, features = trained
    plain = beam_search(model, features, 3, max_len=12)
    vocab = _vocab(model)
    for constraints in (None, torch.zeros(len(features), 2, vocab, dtype=torch.bool)):
        guided = constrained_beam_search(model, features, constraints, beam_size=3, max_len=12)
        assert torch.equal(guided.tokens, plain.tokens)
        assert torch.equal(guided.log_prob, plain.log_prob) and torch.equal(guided.score, plain.score)
        torch.testing.assert_close(guided.alphas, plain.alphas, rtol=0, atol=0)
        assert guided.complete.all() and not guided.met.any()


def test_batched_search_equals_the_per_image_algorithm(trained):
    """No constraint, or constraints of one or two word sets, and a banned word, different for
    each image, give the captions and scores of the textbook algorithm run on each image alone."""
    model, features = trained
    vocab = _vocab(model)
    generator = torch.Generator().manual_seed(0)
    words = torch.arange(4, vocab)
    per_image = []
    for i in range(len(features)):
        picks = words[torch.randperm(len(words), generator=generator)[:5]].tolist()
        per_image.append([[{picks[0], picks[1]}, {picks[2]}], [{picks[0]}], []][i % 3])
    banned = torch.zeros(len(features), vocab, dtype=torch.bool)
    banned[torch.arange(len(features)), words[torch.randint(len(words), (len(features),), generator=generator)]] = True
    guided = constrained_beam_search(model, features, _mask(per_image, vocab), banned, beam_size=3, max_len=10)
    for i in range(len(features)):
        tokens, score, complete = reference_constrained(
            model, features[i : i + 1], per_image[i], set(torch.where(banned[i])[0].tolist()), 3, 10
        )
        length = int(guided.lengths[i])
        assert guided.tokens[i, :length].tolist() == [t for t in tokens if t != 0], f"image {i}"
        assert guided.score[i].item() == pytest.approx(score, abs=1e-4), f"image {i}"
        assert bool(guided.complete[i]) == complete
        for c, allowed in enumerate(per_image[i]):
            assert bool(guided.met[i, c]) == bool(set(guided.tokens[i].tolist()) & allowed)
        assert not guided.met[i, len(per_image[i]) :].any()


def test_every_caption_meets_its_constraints_and_no_banned_word_appears(trained):
    """On every image, with the word each constraint asks for drawn at random, the caption
    holds a word of every set; a banned word the model would otherwise say never appears."""
    model, features = trained
    vocab = _vocab(model)
    plain = beam_search(model, features, 3, max_len=12)
    first_words = plain.tokens[:, 0]  # the word each image's caption starts with, unbanned
    banned = torch.zeros(len(features), vocab, dtype=torch.bool)
    banned[torch.arange(len(features)), first_words] = True
    generator = torch.Generator().manual_seed(1)
    wanted = torch.randint(4, vocab, (len(features),), generator=generator)
    wanted = torch.where(wanted == first_words, (wanted - 4 + 1) % (vocab - 4) + 4, wanted)
    constraints = torch.zeros(len(features), 1, vocab, dtype=torch.bool)
    constraints[torch.arange(len(features)), 0, wanted] = True
    guided = constrained_beam_search(model, features, constraints, banned, beam_size=3, max_len=12)
    assert guided.complete.all() and guided.met.all()
    for i in range(len(features)):
        caption = guided.tokens[i, : int(guided.lengths[i])].tolist()
        assert int(wanted[i]) in caption
        assert int(first_words[i]) not in caption


class _Tensors(NamedTuple):
    value: torch.Tensor


class _Out(NamedTuple):
    logits: torch.Tensor
    alpha: torch.Tensor
    state: tuple


class Bigram(nn.Module):
    """A decoder whose next word depends on its last word only, by a table of log-probabilities."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = table

    def memory(self, encoded):
        return _Tensors(encoded)

    def init_state(self, memory):
        return _Tensors(torch.zeros(memory[0].shape[0], 1))

    def step(self, tokens, state, memory):
        return _Out(self.table[tokens], torch.ones(len(tokens), 1), state)


# <pad> <start> <end> <unk> a dog swan bird runs
A, DOG, SWAN, BIRD, RUNS, END = 4, 5, 6, 7, 8, 2


def _toy():
    probs = torch.full((9, 9), 1e-3)
    probs[1, A], probs[1, DOG] = 0.9, 0.05  # <start> -> a
    probs[A, DOG], probs[A, BIRD], probs[A, SWAN] = 0.7, 0.2, 0.05
    probs[DOG, RUNS], probs[BIRD, RUNS], probs[SWAN, RUNS] = 0.8, 0.6, 0.6
    probs[RUNS, END] = 0.9
    for row in (DOG, BIRD, SWAN):
        probs[row, END] = 0.1
    table = (probs / probs.sum(1, keepdim=True)).log()
    return Bigram(table)


def _exhaustive(model, allowed, max_len=4):
    """The most likely caption of at most ``max_len`` words meeting every set in ``allowed``."""
    words = [A, DOG, SWAN, BIRD, RUNS, END]
    best = (-math.inf, None)
    for length in range(1, max_len + 1):
        for seq in product(words, repeat=length):
            if END in seq[:-1] or (seq[-1] != END and length < max_len):
                continue
            if not all(set(seq) & group for group in allowed):
                continue
            score, last = 0.0, 1
            for w in seq:
                score += model.table[last, w].item()
                last = w
            best = max(best, (score, list(seq)))
    return best


@pytest.mark.parametrize("allowed", [[], [{SWAN}], [{SWAN, BIRD}], [{SWAN}, {RUNS}], [{BIRD}, {DOG}]], ids=str)
def test_the_toy_decoders_best_constrained_caption_is_found(allowed):
    model = _toy()
    score, expected = _exhaustive(model, allowed)
    constraints = _mask([allowed], 9) if allowed else None
    guided = constrained_beam_search(model, torch.zeros(1, 1), constraints, beam_size=3, max_len=4)
    assert guided.tokens[0, : int(guided.lengths[0])].tolist() == expected
    assert guided.log_prob[0].item() == pytest.approx(score, abs=1e-5)  # the model's own log-probability
    assert guided.complete.all()


def test_a_constraint_that_cannot_be_met_is_given_up_and_said():
    """'dog' cannot be the first word; with one word allowed, no caption meets it: the search
    gives up, returns the best one-word caption and reports the constraint unmet."""
    model = _toy()
    model.table[1, DOG] = -math.inf
    guided = constrained_beam_search(model, torch.zeros(1, 1), _mask([[{DOG}]], 9), beam_size=3, max_len=1)
    plain = beam_search(model, torch.zeros(1, 1), 3, max_len=1)
    assert not guided.complete[0] and not guided.met[0, 0]
    assert torch.equal(guided.tokens, plain.tokens) and torch.equal(guided.log_prob, plain.log_prob)


def test_an_ensemble_is_guided_as_one_model():
    """The same search runs an ensemble's mean log-probabilities; the caption meets its
    constraint, and a one-member ensemble gives the member's own result."""
    model = _toy()
    constraints = _mask([[{SWAN}]], 9)
    alone = constrained_beam_search(model, torch.zeros(1, 1), constraints, beam_size=3, max_len=4)
    ensemble = constrained_beam_search(Ensemble([model]), [torch.zeros(1, 1)], constraints, beam_size=3, max_len=4)
    assert torch.equal(alone.tokens, ensemble.tokens)
    torch.testing.assert_close(alone.log_prob, ensemble.log_prob)
    assert SWAN in ensemble.tokens[0].tolist()
