"""The text data modules: UCI sentiment sentences and the synthetic dates task."""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from ...vocab import Vocabulary, tokenize
from ..caption_sets import pad_captions
from ..dates import DatePairs, characters, make_pairs
from ..sentiment import SentenceLabels, read_sentiment, split_indices
from .splits import SplitsDataModule, _require


class SentimentDataModule(SplitsDataModule):
    """UCI sentiment sentences as in the LSTM + attention tutorial.

    Args:
        root: folder of the three files; defaults to
            ``$VISION_ATTENTION_DATA/sentiment_labelled_sentences``.
        sources: which files ("amazon", "yelp", "imdb").
        max_len: sentences padded at the end (or cut) to this many tokens.
        val_share: share held out for validation.
        seed: seed of the split.
        split: "shuffled" (a seeded shuffle) or "tail" (the last ``val_share`` of the files,
            Keras' ``validation_split``, which the tutorial's figures come from).
        min_count: rarer training words become ``<unk>``.
        batch_size: sentences per batch.
        num_workers: DataLoader worker processes.
    """

    def __init__(
        self,
        root: str | None = None,
        sources: tuple[str, ...] = ("amazon", "yelp"),
        max_len: int = 32,
        val_share: float = 0.2,
        seed: int = 0,
        split: str = "shuffled",
        min_count: int = 1,
        batch_size: int = 100,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()

    def make_splits(self) -> dict[str, Dataset]:
        h = self.hparams
        root = _require(h.root, "UCI sentiment", "sentiment_labelled_sentences", "python datasets/sentiment.py")
        pairs = read_sentiment(root, tuple(h.sources))
        train_idx, val_idx = split_indices(len(pairs), h.val_share, h.seed, h.split)
        train = [pairs[i] for i in train_idx]
        self.vocab = self.vocab or Vocabulary.build((tokenize(s) for s, _ in train), h.min_count)  # from training only
        return {
            "train": SentenceLabels(train, self.vocab, h.max_len),
            "val": SentenceLabels([pairs[i] for i in val_idx], self.vocab, h.max_len),
        }


def collate_dates(items: list[dict]) -> dict:
    """Pad sources and targets: ``source`` (B, S), ``source_lengths``, ``target`` (B, T), ``target_lengths``."""
    source, source_lengths = pad_captions([it["source"] for it in items])
    target, target_lengths = pad_captions([it["target"] for it in items])
    return {"source": source, "source_lengths": source_lengths, "target": target, "target_lengths": target_lengths}


class DatesDataModule(SplitsDataModule):
    """The synthetic date-normalisation task, character level.

    Args:
        train_size: training pairs.
        val_size: validation pairs.
        test_size: held-out test pairs (no source string shared with training).
        seed: the task's seed.
        batch_size: pairs per batch.
        num_workers: DataLoader worker processes.
    """

    collate = staticmethod(collate_dates)

    def __init__(
        self,
        train_size: int = 20000,
        val_size: int = 1000,
        test_size: int = 2000,
        seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        source_chars, target_chars = characters()
        # One character vocabulary for both sides (ISO dates use characters sources have),
        # so models can share embeddings and take one ``vocab_size``.
        self.vocab = Vocabulary(sorted(set(source_chars) | set(target_chars)))
        self.source_vocab = self.target_vocab = self.vocab

    def make_splits(self) -> dict[str, Dataset]:
        h = self.hparams
        pairs = make_pairs(h.train_size + h.val_size + h.test_size, h.seed)
        cuts = np.cumsum([h.train_size, h.val_size])
        parts = {"train": pairs[: cuts[0]], "val": pairs[cuts[0] : cuts[1]], "test": pairs[cuts[1] :]}
        return {s: DatePairs(p, self.source_vocab, self.target_vocab) for s, p in parts.items()}
