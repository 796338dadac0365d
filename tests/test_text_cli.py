"""Text models end to end through the configs in train/: fit a few steps, then classify
and translate from the checkpoint alone, with the attention pictures."""

import random

import pytest
from PIL import Image

from vision_attention.cli import main
from vision_attention.files.checkpoints import CheckpointError
from vision_attention.inference import Classifier, Translator

FAST = [
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
    "--trainer.logger",
    "false",
]


@pytest.fixture
def sentiment_root(tmp_path):
    """Small amazon and yelp files in the UCI format: 'good' sentences are 1, 'bad' ones 0."""
    rng = random.Random(0)
    words = ["the", "food", "service", "was", "place", "staff", "really", "quite", "very"]
    for name in ("amazon_cells_labelled.txt", "yelp_labelled.txt"):
        lines = []
        for _ in range(60):
            label = rng.randint(0, 1)
            sentence = rng.sample(words, 4) + ["good" if label else "bad"] + rng.sample(words, 2)
            lines.append(" ".join(sentence) + f".\t{label}")
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    return tmp_path


@pytest.mark.parametrize("config", ["sentiment_lstm_attention", "sentiment_transformer"])
def test_sentiment_config_fits_and_the_checkpoint_classifies_with_weights(config, sentiment_root, tmp_path, capsys):
    root = tmp_path / "run"
    assert (
        main(
            [
                "fit",
                "--config",
                f"train/{config}.yaml",
                "--data.init_args.root",
                str(sentiment_root),
                "--trainer.max_epochs",
                "2",
                "--trainer.default_root_dir",
                str(root),
                *FAST,
            ]
        )
        == 0
    )
    checkpoint = next(root.rglob("last.ckpt"))
    results = Classifier.from_checkpoint(checkpoint).classify(["the food was good", "the service was bad"])
    with pytest.raises(CheckpointError, match="a classifier model; load it with Classifier.from_pretrained"):
        Translator.from_checkpoint(checkpoint)
    assert [len(r.weights) for r in results] == [4, 4]
    shares = [sum(r.weights) for r in results]
    if config == "sentiment_lstm_attention":  # unmasked as in the tutorial: the padding holds the rest
        assert all(0 < share < 1 - 1e-3 for share in shares), shares
    else:
        assert all(abs(share - 1) < 1e-5 for share in shares), shares
    html = tmp_path / "words.html"
    assert main(["classify", "--checkpoint", str(checkpoint), "--html", str(html), "the food was good"]) == 0
    assert "food" in html.read_text() and "background" in html.read_text()
    # Outputs never clobber: not the checkpoint (even with --overwrite), not a page, unless asked.
    before = checkpoint.read_bytes()
    assert main(["classify", "--checkpoint", str(checkpoint), "--html", str(checkpoint), "--overwrite", "good"]) == 2
    assert checkpoint.read_bytes() == before and Classifier.from_checkpoint(checkpoint)
    page = html.read_text()
    assert main(["classify", "--checkpoint", str(checkpoint), "--html", str(html), "the food was bad"]) == 2
    assert html.read_text() == page and "exists: pass --overwrite" in capsys.readouterr().err
    assert (
        main(["classify", "--checkpoint", str(checkpoint), "--html", str(html), "--overwrite", "the food was bad"]) == 0
    )
    assert html.read_text() != page
    capsys.readouterr()
    long = " ".join(["the food was good"] * 25)  # 100 words; the model reads 32
    assert main(["classify", "--checkpoint", str(checkpoint), "--", "good", "--debug", long]) == 0
    out, err = capsys.readouterr()
    assert [line.split("\t")[2] for line in out.splitlines()] == [
        "good",
        "--debug",
        long,
    ]  # "--debug" is a sentence here
    assert err.splitlines() == ["note: sentence 3 has 100 words; the model reads its first 32"]


def test_dates_config_fits_and_the_checkpoint_translates_with_an_alignment(tmp_path, capsys):
    root = tmp_path / "run"
    assert (
        main(
            [
                "fit",
                "--config",
                "train/dates_luong_general.yaml",
                "--data.init_args.train_size",
                "256",
                "--data.init_args.val_size",
                "32",
                "--data.init_args.test_size",
                "32",
                "--trainer.max_epochs",
                "1",
                "--trainer.default_root_dir",
                str(root),
                *FAST,
            ]
        )
        == 0
    )
    checkpoint = next(root.rglob("last.ckpt"))
    capsys.readouterr()
    assert (
        main(
            [
                "translate",
                "--checkpoint",
                str(checkpoint),
                "--alignment-dir",
                str(tmp_path / "a"),
                "--beam-size",
                "3",
                "9 may 2018",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("9 may 2018\t")
    image = Image.open(tmp_path / "a" / "alignment_0.png")
    assert (image.width - 18 * len("9 may 2018")) in range(36, 60)  # a column of 18 pixels per source character
    before = (tmp_path / "a" / "alignment_0.png").read_bytes()
    assert (
        main(["translate", "--checkpoint", str(checkpoint), "--alignment-dir", str(tmp_path / "a"), "1 june 1999"]) == 2
    )
    assert (tmp_path / "a" / "alignment_0.png").read_bytes() == before
    assert "alignment_0.png exists: pass --overwrite" in capsys.readouterr().err
    assert (
        main(
            [
                "translate",
                "--checkpoint",
                str(checkpoint),
                "--alignment-dir",
                str(tmp_path / "a"),
                "--overwrite",
                "1 june 1999",
            ]
        )
        == 0
    )
    assert (tmp_path / "a" / "alignment_0.png").read_bytes() != before


def test_a_drawer_checkpoint_is_not_a_text_model(tmp_path):
    import torch

    torch.save({"vision_attention": {"kind": "drawer"}, "state_dict": {}}, tmp_path / "d.ckpt")
    assert main(["translate", "--checkpoint", str(tmp_path / "d.ckpt"), "x"]) == 2
