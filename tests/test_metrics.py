import math

import nltk
import pytest
import torch

from vision_attention.data import ShapesCaptions
from vision_attention.metrics import (
    attention_entropy,
    attention_peaks,
    bleu,
    caption_metrics,
    cider_d,
    coco_metrics,
    localisation,
    meteor,
)

HYPS = [
    ["a", "dog", "runs", "on", "the", "grass"],
    ["two", "cats", "are", "sleeping"],
    ["a", "man", "rides", "a", "horse"],
]
REFS = [
    [["a", "dog", "runs", "on", "grass"], ["the", "dog", "is", "running", "on", "the", "grass"]],
    [["two", "cats", "sleep"], ["cats", "are", "sleeping", "on", "a", "bed"]],
    [["a", "man", "rides", "a", "brown", "horse"], ["a", "person", "riding", "a", "horse"]],
]


def test_bleu_hand_computed_and_perfect():
    # One sentence: 3 of 4 unigrams match, 1 of 3 bigrams; reference as long as the hypothesis.
    scores = bleu([["a", "b", "c", "d"]], [[["a", "b", "x", "d"]]])
    assert math.isclose(scores["bleu1"], 3 / 4) and math.isclose(scores["bleu2"], math.sqrt(3 / 4 * 1 / 3))
    assert bleu(HYPS, [[h] for h in HYPS])["bleu4"] == pytest.approx(1.0)


def test_cider_d_properties():
    perfect = cider_d([r[0] for r in REFS], REFS)
    assert perfect > cider_d(HYPS, REFS) > cider_d([["zebra"]] * 3, REFS) == 0.0


@pytest.fixture
def wordnet_reloaded_after():
    """Tests that point nltk elsewhere unload WordNet when done, so that no later test reads
    a reader opened under paths that are gone (newer nltk refuses such files)."""
    yield
    from nltk.corpus import wordnet

    wordnet._unload()


def test_meteor_is_absent_without_wordnet_never_zero(monkeypatch, wordnet_reloaded_after):
    monkeypatch.setattr(nltk.data, "path", [])
    from nltk.corpus import wordnet

    wordnet._unload()
    assert meteor(HYPS, REFS) is None
    assert "meteor" not in caption_metrics(HYPS, REFS)


def test_meteor_with_wordnet(data_dir, monkeypatch, wordnet_reloaded_after):
    monkeypatch.setattr(nltk.data, "path", [str(data_dir / "nltk_data")])
    from nltk.corpus import wordnet

    wordnet._unload()
    score = meteor(HYPS, REFS)
    assert score is not None and 0.3 < score < 1.0
    assert meteor([r[0] for r in REFS], REFS) > 0.9


def test_our_bleu_and_cider_agree_with_the_official_coco_code():
    official = coco_metrics(HYPS, REFS)
    if official is None:
        pytest.skip("pycocoevalcap is not installed (the eval extra)")
    ours = bleu(HYPS, REFS)
    for n in range(1, 5):
        assert abs(ours[f"bleu{n}"] - official[f"coco_bleu{n}"]) < 0.01
    assert cider_d(HYPS, REFS) == pytest.approx(official["coco_cider_d"], rel=1e-9)


def test_localisation_counts_object_words_whose_peak_is_in_their_box():
    data = ShapesCaptions("train", 50)
    scene = next(data.scene(i) for i in range(50) if len(data.scene(i).objects) == 2)
    caption = data.captions(scene)[0]
    owners = scene.ground(caption)
    alphas = torch.zeros(len(caption), 8, 8)
    for t, owner in enumerate(owners):
        x0, y0, x1, y1 = scene.objects[owner if owner is not None else 0].box
        alphas[t, ((y0 + y1) // 2) // 8, ((x0 + x1) // 2) // 8] = 1.0  # the cell under the box centre
    assert localisation(caption, alphas, scene, (64, 64), nouns_only=False) == (6, 6)
    assert localisation(caption, alphas, scene, (64, 64)) == (2, 2)  # the two shape nouns
    alphas[2] = alphas[2].flip(0, 1)  # look at the opposite corner for one adjective
    assert localisation(caption, alphas, scene, (64, 64), nouns_only=False) == (5, 6)
    assert localisation(caption, alphas, scene, (64, 64)) == (2, 2)
    alphas[3] = alphas[3].flip(0, 1)  # and for the first noun
    assert localisation(caption, alphas, scene, (64, 64)) == (1, 2)
    wrong = ["a", "large", "red", "circle"]
    assert localisation(wrong, alphas, scene, (64, 64)) == (0, 0)
    grid = torch.zeros(1, 4, 4)
    grid[0, 1, 2] = 1.0  # row 1, column 2 of a 4 x 4 grid over a 16 x 16 image
    ((x, y),) = attention_peaks(grid, (16, 16)).tolist()
    assert 8 <= x < 12 and 4 <= y < 8


def test_attention_entropy_is_the_categorical_entropy_over_log_l():
    alphas = torch.softmax(torch.randn(5, 3, 49), -1)
    expected = torch.distributions.Categorical(probs=alphas).entropy() / math.log(49)
    assert torch.allclose(attention_entropy(alphas), expected, atol=1e-6)
    assert torch.allclose(attention_entropy(torch.full((2, 49), 1 / 49)), torch.ones(2))
    assert torch.equal(attention_entropy(torch.eye(49)[:3]), torch.zeros(3))  # one location each


def test_official_metrics_without_java_say_once_that_meteor_was_not_computed(monkeypatch, recwarn):
    pytest.importorskip("pycocoevalcap")
    import shutil

    from vision_attention.metrics import coco_metrics

    monkeypatch.setattr(shutil, "which", lambda name: None)  # as on a machine without java
    hyps, refs = [["a", "dog", "runs"]], [[["a", "dog", "runs", "fast"], ["the", "dog", "runs"]]]
    out = coco_metrics(hyps, refs)
    assert "coco_meteor" not in out and out["coco_bleu1"] > 0
    said = [w for w in recwarn if "METEOR 1.5 needs Java" in str(w.message)]
    assert len(said) == 1


def test_the_reward_cider_d_equals_the_official_per_image_scores_on_a_flickr8k_dev_batch(data_dir):
    """Self-critical training's reward is computed as the dev score is: the same per-image
    CIDEr-D as pycocoevalcap's on the same references, for captions short and long."""
    pytest.importorskip("pycocoevalcap")
    from pycocoevalcap.cider.cider import Cider

    from vision_attention.data import read_caption_records
    from vision_attention.metrics import CiderD

    annotations = data_dir / "flickr8k" / "captions.txt"
    if not annotations.is_file():
        pytest.skip(f"{annotations} is not there")
    batch = [r for r in read_caption_records(annotations) if r.split == "val"][:64]
    refs = [r.captions for r in batch]
    hyps = [batch[(i + 1) % 64].captions[i % 5] for i in range(64)]  # another photo's caption
    hyps[0], hyps[1], hyps[2] = refs[0][0], ["a"], refs[2][1] + ["in", "the", "park"]  # exact, one word, longer
    _, official = Cider().compute_score(
        {i: [" ".join(r) for r in rs] for i, rs in enumerate(refs)}, {i: [" ".join(h)] for i, h in enumerate(hyps)}
    )
    ours = CiderD(refs).scores(hyps, refs)
    assert ours == pytest.approx(list(official), rel=1e-9, abs=1e-12)
    assert ours[0] > 1.0 > ours[5]  # the reference itself scores high, another photo's caption low


def test_attention_top_share_is_the_share_of_the_top_cells_uniform_to_peaked():
    from vision_attention.metrics import attention_top_share

    uniform = torch.full((2, 49), 1 / 49)
    torch.testing.assert_close(attention_top_share(uniform), torch.full((2,), 10 / 49))  # 10 of 49 cells
    peaked = torch.zeros(1, 196)
    peaked[0, 17] = 1.0
    assert float(attention_top_share(peaked)) == 1.0
    spread = torch.tensor([[0.5, 0.3, 0.1, 0.05, 0.05]])
    assert float(attention_top_share(spread, top=0.4)) == pytest.approx(0.8)  # the top 2 of 5
