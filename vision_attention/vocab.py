"""Tokenising and the word vocabulary that travels with every text-reading model, and the
special token ids the models share. Imports no torch and no Lightning.

Tokenising uses nltk's Treebank word tokenizer through
``word_tokenize(..., preserve_line=True)``, which needs no downloaded nltk data;
text is lower-cased and tokens made only of punctuation are dropped, as in the
Karpathy caption splits.
"""

from __future__ import annotations

import json
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from nltk.tokenize import word_tokenize

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = (PAD, START, END, UNK)
PAD_ID, START_ID, END_ID, UNK_ID = range(len(SPECIALS))  # every model and decoder uses these ids
_PUNCTUATION = set(string.punctuation)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens without punctuation-only tokens."""
    tokens = word_tokenize(text.lower(), preserve_line=True)
    return [t for t in tokens if not all(ch in _PUNCTUATION for ch in t)]


class Vocabulary:
    """Words <-> ids with ``<pad>`` = 0, ``<start>`` = 1, ``<end>`` = 2, ``<unk>`` = 3.

    Args:
        words: the vocabulary words, most frequent first; special tokens are added.
    """

    def __init__(self, words: Iterable[str]) -> None:
        self.itos: list[str] = list(SPECIALS) + [w for w in words if w not in SPECIALS]
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("Vocabulary: duplicate words")

    pad_id, start_id, end_id, unk_id = PAD_ID, START_ID, END_ID, UNK_ID

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_count: int = 1) -> Vocabulary:
        """Words seen at least ``min_count`` times, most frequent first (ties alphabetical)."""
        counts = Counter(token for tokens in token_lists for token in tokens)
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(words)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.itos == other.itos

    def encode(self, tokens: Sequence[str], add_special: bool = True) -> list[int]:
        """Token ids, unknown words as ``<unk>``; framed by ``<start>``/``<end>`` by default."""
        ids = [self.stoi.get(t, self.unk_id) for t in tokens]
        return [self.start_id, *ids, self.end_id] if add_special else ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Words of ids up to the first ``<end>``, without special tokens."""
        words = []
        for i in ids:
            i = int(i)
            if i == self.end_id:
                break
            if i not in (self.pad_id, self.start_id):
                words.append(self.itos[i])
        return words

    def to_dict(self) -> dict:
        return {"itos": self.itos}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        itos = data["itos"]
        if tuple(itos[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"Vocabulary: the first tokens must be {SPECIALS}, got {itos[:4]}")
        return cls(itos[len(SPECIALS) :])

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (KeyError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: not a vocabulary file ({err})") from err
