import datetime as dt

import pytest
import torch

from vision_attention.data import DatesDataModule, SentimentDataModule, make_pairs, read_sentiment_file
from vision_attention.data.dates import FORMATS
from vision_attention.data.sentiment import split_indices


def test_sentiment_file_keeps_u0085_inside_a_line_and_names_bad_lines(tmp_path):
    (tmp_path / "s.txt").write_text("good\u0085 film  \t1\nbad one\t0\n", encoding="utf-8")
    assert read_sentiment_file(tmp_path / "s.txt") == [("good\u0085 film", 1), ("bad one", 0)]
    (tmp_path / "bad.txt").write_text("fine\t1\nno label here\n")
    with pytest.raises(ValueError, match="bad.txt:2"):
        read_sentiment_file(tmp_path / "bad.txt")


def test_splits_shuffle_by_seed_or_hold_out_the_tail_as_keras():
    train, val = split_indices(10, 0.2, seed=0, split="tail")
    assert (train, val) == (list(range(8)), [8, 9])  # Keras' validation_split: the last share
    train, val = split_indices(10, 0.2, seed=0)
    assert sorted(train + val) == list(range(10)) and len(val) == 2
    assert split_indices(10, 0.2, seed=1) != (train, val)
    with pytest.raises(ValueError, match="split must be"):
        split_indices(10, 0.2, 0, split="head")


def test_real_sentiment_files(data_dir):
    root = data_dir / "sentiment_labelled_sentences"
    for name in ("amazon_cells_labelled.txt", "yelp_labelled.txt", "imdb_labelled.txt"):
        pairs = read_sentiment_file(root / name)
        assert len(pairs) == 1000 and sum(label for _, label in pairs) == 500
    assert any("\u0085" in s for s, _ in read_sentiment_file(root / "imdb_labelled.txt"))
    dm = SentimentDataModule(root=str(root))
    dm.setup()
    assert len(dm.splits["train"]) == 1600 and len(dm.splits["val"]) == 400
    batch = next(iter(dm.train_dataloader()))
    assert batch["tokens"].shape == (100, 32)
    row = batch["tokens"][0]
    assert (row[batch["length"][0] :] == 0).all() and (row[: batch["length"][0]] != 0).all()


def test_dates_are_right_deterministic_and_held_out():
    pairs = make_pairs(500, seed=3)
    assert pairs == make_pairs(500, seed=3)
    for source, target in pairs:
        date = dt.date.fromisoformat(target)
        assert source in {f(date) for f in FORMATS}
    dm = DatesDataModule(train_size=2000, val_size=100, test_size=300)
    dm.setup()
    train = {p[0] for p in dm.splits["train"].pairs}
    assert not train & {p[0] for p in dm.splits["test"].pairs}
    batch = next(iter(dm.test_dataloader()))
    assert batch["target"].shape[1] == 12 and batch["target"][:, 0].eq(1).all()
    decoded = "".join(dm.target_vocab.decode(batch["target"][0].tolist()))
    assert decoded == dm.splits["test"].pairs[0][1]
    assert torch.equal(batch["source_lengths"], torch.tensor([len(p[0]) for p in dm.splits["test"].pairs[:64]]))
