"""An ensemble of captioners: of one it is that one, of several it decodes their mean
log-probabilities, and the CLI takes --model twice."""

import pytest
import torch

from vision_attention.cli import main
from vision_attention.inference import Captioner, CaptionerEnsemble
from vision_attention.models import ShowAttendTell
from vision_attention.models.decoding import beam_search, greedy
from vision_attention.models.ensemble import Ensemble


def test_an_ensemble_of_one_model_decodes_as_the_model(tiny_captioner):
    checkpoint, photos = tiny_captioner
    alone = Captioner.from_checkpoint(checkpoint)
    together = CaptionerEnsemble([Captioner.from_checkpoint(checkpoint)])
    for a, b in zip(alone.caption(photos, beam_size=3, max_len=8), together.caption(photos, beam_size=3, max_len=8)):
        assert a.tokens == b.tokens and a.score == pytest.approx(b.score, abs=1e-5)
        torch.testing.assert_close(a.alphas, b.alphas)


def test_two_members_step_on_the_mean_of_their_log_probabilities():
    torch.manual_seed(0)
    a = ShowAttendTell(15, feature_dim=6, embed_dim=5, hidden_dim=7, attn_dim=4, dropout=0.0).eval()
    b = ShowAttendTell(15, feature_dim=8, embed_dim=4, hidden_dim=9, attn_dim=3, dropout=0.0).eval()
    fa, fb = torch.randn(3, 4, 6), torch.randn(3, 9, 8)  # each its own features, grids of 4 and 9
    ensemble = Ensemble([a, b])
    tokens = torch.tensor([1, 5, 7])
    memory = ensemble.memory([fa, fb])
    out = ensemble.step(tokens, ensemble.init_state(memory), memory)
    ma, mb = a.memory(fa), b.memory(fb)
    expected = (
        torch.log_softmax(a.step(tokens, a.init_state(ma), ma).logits, -1)
        + torch.log_softmax(b.step(tokens, b.init_state(mb), mb).logits, -1)
    ) / 2
    torch.testing.assert_close(out.logits, expected)
    assert out.alpha.shape == (3, 4)
    # Greedy on the ensemble picks, at every step, the argmax of that mean.
    decoded = greedy(ensemble, [fa, fb], max_len=5)
    assert decoded.tokens.shape[0] == 3 and beam_search(ensemble, [fa, fb], 3, max_len=5).tokens.shape[0] == 3


def test_the_cli_captions_with_an_ensemble_of_two(tiny_captioner, tmp_path, capsys):
    checkpoint, photos = tiny_captioner
    folder = Captioner.from_checkpoint(checkpoint).save_pretrained(tmp_path / "same")
    assert main(["caption", "--json", "--model", str(checkpoint), "--model", str(folder), str(photos[0])]) == 0
    import json

    record = json.loads(capsys.readouterr().out)[0]
    assert record["model"] == f"{checkpoint} + {folder}"
    assert record["caption"] == Captioner.from_checkpoint(checkpoint).caption(photos[0])[0].text  # two equal members
