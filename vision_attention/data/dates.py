"""A synthetic date-normalisation translation task for seq2seq models: dates written
in many human formats ("saturday 9 may 2018", "9/5/18", "May 9th, 2018") -> ISO
"2018-05-09", character by character. Numeric formats are day first; two-digit
years mean 1950-2049. Deterministic from a seed; the held-out split shares no
source string with the training split.
"""

from __future__ import annotations

import datetime as dt
import random

import torch
from torch.utils.data import Dataset

from ..vocab import Vocabulary

FIRST, LAST = dt.date(1950, 1, 1), dt.date(2049, 12, 31)
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


FORMATS = [
    lambda d: f"{DAYS[d.weekday()]} {d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{d.day}/{d.month}/{d.year % 100:02d}",
    lambda d: f"{MONTHS[d.month - 1].capitalize()} {ordinal(d.day)}, {d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
    lambda d: f"{MONTHS[d.month - 1][:3]} {d.day} {d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1][:3].upper()} {d.year}",
    lambda d: f"{DAYS[d.weekday()].capitalize()}, {MONTHS[d.month - 1].capitalize()} {d.day}, {d.year}",
    lambda d: f"{d.day}-{MONTHS[d.month - 1][:3]}-{d.year % 100:02d}",
    lambda d: f"{DAYS[d.weekday()][:3]} {d.day} {MONTHS[d.month - 1][:3]} {d.year % 100:02d}",
    lambda d: f"the {ordinal(d.day)} of {MONTHS[d.month - 1]} {d.year}",
]


def make_pairs(count: int, seed: int, exclude: set[str] | frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """``count`` distinct (human date, ISO date) pairs whose sources are not in ``exclude``."""
    rng = random.Random(seed)
    span = (LAST - FIRST).days
    pairs, seen = [], set(exclude)
    while len(pairs) < count:
        date = FIRST + dt.timedelta(days=rng.randrange(span + 1))
        source = rng.choice(FORMATS)(date)
        if source not in seen:
            seen.add(source)
            pairs.append((source, date.isoformat()))
    return pairs


def characters() -> tuple[list[str], list[str]]:
    """Source and target character sets of the task."""
    source = sorted(
        {ch for f in FORMATS for d in (dt.date(2018, m, 28) for m in range(1, 13)) for ch in f(d)}
        | set("0123456789")
        | {ch for name in MONTHS + DAYS for ch in name + name.upper()}
    )
    return source, list("0123456789-")


class DatePairs(Dataset):
    """Character ids of (source, target) pairs; targets framed by <start>/<end>."""

    def __init__(self, pairs: list[tuple[str, str]], source_vocab: Vocabulary, target_vocab: Vocabulary) -> None:
        self.pairs, self.source_vocab, self.target_vocab = pairs, source_vocab, target_vocab

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        source, target = self.pairs[index]
        return {
            "source": torch.tensor(self.source_vocab.encode(list(source), add_special=False)),
            "target": torch.tensor(self.target_vocab.encode(list(target))),
        }
