"""The REINFORCE baseline of hard attention: a moving average per caption length, alone or
on top of each caption's log-likelihood under the expected context."""

import pytest
import torch

from vision_attention.lit import CaptioningModule
from vision_attention.models import ShowAttendTell
from vision_attention.models.backbones import Backbone

CAPTIONS = torch.tensor([[1, 5, 6, 2, 0, 0], [1, 7, 2, 0, 0, 0], [1, 8, 9, 10, 11, 2]])
LENGTHS = torch.tensor([4, 3, 6])  # 3, 2 and 5 words with <end>


def hard_module(dropout: float = 0.0, **kwargs) -> CaptioningModule:
    model = ShowAttendTell(
        12,
        Backbone("tiny", grid=None, width=8),
        embed_dim=8,
        hidden_dim=16,
        attn_dim=8,
        attention="hard",
        dropout=dropout,
    )
    return CaptioningModule(model, doubly_stochastic=0.0, **kwargs).train()


def word_log_p(out) -> torch.Tensor:
    """(B, T) log p(y_t | ...) of CAPTIONS from a teacher-forced output, 0 at padding."""
    nll = torch.nn.functional.cross_entropy(out.logits.transpose(1, 2), CAPTIONS[:, 1:], reduction="none")
    return -nll * (torch.arange(5)[None] < (LENGTHS - 1)[:, None])


def losses_and_their_samples(module: CaptioningModule, features: torch.Tensor):
    """``module.losses`` on CAPTIONS with every caption sampled, then the model's pass on the
    same draws (the expectation coin, then the locations), as losses made it."""
    torch.manual_seed(1)
    loss = module.losses({"captions": CAPTIONS, "lengths": LENGTHS}, features)["loss"]
    torch.manual_seed(1)
    torch.rand(3)
    out = module.model(
        features, CAPTIONS, sample_attention=True, expectation=torch.zeros(3, dtype=torch.bool), lengths=LENGTHS
    )
    return loss, out


def test_each_caption_length_keeps_its_own_moving_average():
    torch.manual_seed(0)
    module = hard_module(expectation_prob=0.0, baseline_decay=0.9)
    features = module.features({"images": torch.rand(3, 3, 32, 32)})
    _, out = losses_and_their_samples(module, features)
    nll = -word_log_p(out).sum(1)
    expected = torch.zeros_like(module.baseline)
    expected[LENGTHS - 1] = 0.1 * -nll.detach()
    torch.testing.assert_close(module.baseline, expected)


def test_expected_baseline_is_the_log_likelihood_of_the_deterministic_model():
    """The per-caption baseline is log p(y | a) under the expected context without dropout
    (what decoding runs), in the chosen rows only, whole caption or from each step on."""
    torch.manual_seed(0)
    module = hard_module(dropout=0.5, reinforce_baseline="expected")
    features = module.features({"images": torch.rand(3, 3, 32, 32)}).detach()
    rows = torch.tensor([True, False, True])
    whole = module.expected_rewards(features, CAPTIONS, LENGTHS, rows, to_go=False)
    to_go = module.expected_rewards(features, CAPTIONS, LENGTHS, rows, to_go=True)
    assert module.training and module.model.training  # put back in training mode
    module.model.eval()
    log_p = (
        word_log_p(module.model(features, CAPTIONS, sample_attention=False, lengths=LENGTHS)) * rows[:, None]
    )  # (B, T)
    torch.testing.assert_close(whole, log_p.sum(1, keepdim=True))
    torch.testing.assert_close(to_go, log_p.flip(1).cumsum(1).flip(1))
    assert (
        to_go[0, 0] < to_go[0, 1] < to_go[0, 2] < to_go[0, 3] == 0.0
    )  # 3 words: sums of fewer words from each step on
    assert (whole[1] == 0).all() and (to_go[1] == 0).all()  # a row not chosen


def test_expected_baseline_enters_the_reinforce_term_and_the_average_tracks_the_rest():
    """With reinforce_baseline "expected", each sampled caption's reward is centred on its own
    log p(y | a) plus the moving average b_n, and b_n averages log p(y | s, a) - log p(y | a)."""
    torch.manual_seed(0)
    module = hard_module(reinforce_baseline="expected", expectation_prob=0.0, baseline_decay=0.9, entropy_weight=0.0)
    module.baseline[3] = 0.5  # a b already learned for 3-word captions
    features = module.features({"images": torch.rand(3, 3, 32, 32)})
    loss, out = losses_and_their_samples(module, features)
    model = module.model
    nll = -word_log_p(out)
    with torch.no_grad():
        reference = word_log_p(model(features, CAPTIONS, sample_attention=False, lengths=LENGTHS)).sum(
            1
        )  # (B,) log p(y | a)
    reward = -nll.sum(1).detach()
    advantage = reward - reference - torch.tensor([0.5, 0.0, 0.0])  # b_3 = 0.5 for the first caption
    by_hand = (nll.sum() - (advantage * out.log_probs.sum(1)).sum()) / (LENGTHS - 1).sum()
    torch.testing.assert_close(loss, by_hand)
    params = list(model.attention.parameters())
    for got, want in zip(torch.autograd.grad(loss, params), torch.autograd.grad(by_hand, params)):
        torch.testing.assert_close(got, want)
    expected = torch.zeros_like(module.baseline)
    expected[LENGTHS - 1] = 0.1 * (reward - reference)
    expected[3] += 0.9 * 0.5
    torch.testing.assert_close(module.baseline, expected)


def test_unknown_reinforce_baseline_is_refused():
    model = ShowAttendTell(12, feature_dim=4, attention="hard")
    with pytest.raises(ValueError, match="reinforce_baseline must be 'average' or 'expected'"):
        CaptioningModule(model, reinforce_baseline="greedy")
