"""UCI Sentiment Labelled Sentences (Kotzias et al. 2015, KDD; CC BY 4.0): 1000
``sentence<TAB>label`` lines from each of amazon, yelp and imdb.

The imdb file holds U+0085, which ``str.splitlines`` takes for a line break, so
files are read with ``newline="\\n"`` and split on "\\n" only. The classic LSTM +
attention tutorial uses amazon + yelp, sentences padded (at the end) or cut to
32 tokens, and a seeded 80/20 split.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from torch.utils.data import Dataset

from ..vocab import Vocabulary, tokenize

FILES = {"amazon": "amazon_cells_labelled.txt", "yelp": "yelp_labelled.txt", "imdb": "imdb_labelled.txt"}


def read_sentiment_file(path: str | Path) -> list[tuple[str, int]]:
    """(sentence, label) pairs of one file; errors name the file and line."""
    path = Path(path)
    with open(path, encoding="utf-8", newline="\n") as f:
        lines = f.read().split("\n")
    pairs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        sentence, tab, label = line.rstrip("\r").rpartition("\t")
        if not tab or label.strip() not in ("0", "1"):
            raise ValueError(f"{path}:{number}: expected 'sentence<TAB>0|1', found {line[:60]!r}")
        pairs.append((sentence.strip(), int(label)))
    return pairs


def read_sentiment(root: str | Path, sources: tuple[str, ...] = ("amazon", "yelp")) -> list[tuple[str, int]]:
    """The sentences of the chosen sources, in file order."""
    unknown = set(sources) - set(FILES)
    if unknown:
        raise ValueError(f"unknown sentiment sources {sorted(unknown)}; choose from {sorted(FILES)}")
    return [pair for name in sources for pair in read_sentiment_file(Path(root) / FILES[name])]


def split_indices(count: int, val_share: float, seed: int, split: str = "shuffled") -> tuple[list[int], list[int]]:
    """(train, val) index lists: "shuffled" cuts a seeded shuffle; "tail" holds out the
    last ``val_share`` in file order, as Keras' ``validation_split`` (the tutorial's protocol)."""
    if split not in ("shuffled", "tail"):
        raise ValueError(f"split must be 'shuffled' or 'tail', got {split!r}")
    order = list(range(count))
    n_val = round(val_share * count)
    if split == "tail":
        return order[: count - n_val], order[count - n_val :]
    random.Random(seed).shuffle(order)
    return order[n_val:], order[:n_val]


class SentenceLabels(Dataset):
    """Token ids padded at the end to ``max_len`` (longer sentences keep their first
    ``max_len`` tokens), with the real length and the label.

    Args:
        pairs: (sentence, label) pairs.
        vocab: word vocabulary (unknown words map to ``<unk>``).
        max_len: padded length.
    """

    def __init__(self, pairs: list[tuple[str, int]], vocab: Vocabulary, max_len: int = 32) -> None:
        self.pairs, self.vocab, self.max_len = pairs, vocab, max_len

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        sentence, label = self.pairs[index]
        ids = self.vocab.encode(tokenize(sentence), add_special=False)[: self.max_len] or [Vocabulary.unk_id]
        tokens = torch.full((self.max_len,), Vocabulary.pad_id, dtype=torch.long)
        tokens[: len(ids)] = torch.tensor(ids)
        return {"tokens": tokens, "length": torch.tensor(len(ids)), "label": torch.tensor(label)}
