"""MNISTCaptions: the "MNIST with captions" task of alignDRAW (Mansimov et al. 2016,
"Generating Images from Captions with Attention", https://arxiv.org/abs/1511.02793).

A 60 x 60 canvas holds one or two 28 x 28 MNIST digits. One digit sits in a
corner: "the digit 3 is at the top left of the image"; two digits sit side by
side or one above the other: "the digit 7 is on the left of the digit 2".
Every word naming a digit ("digit", "3") maps to that digit's box (the box
of its ink). The "compositional" split holds two-digit scenes whose ordered
pair (first digit, second digit) never occurs in training, though the swapped
pair does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from .scene_grammar import inverse, match

CORNERS = ("top left", "top right", "bottom left", "bottom right")
SPLITS = ("train", "val", "test", "compositional")
CANVAS, DIGIT = 60, 28
# Ordered pairs (first, second) kept out of train/val/test; their swaps stay in.
HOLDOUT_PAIRS = frozenset((a, b) for a in range(10) for b in range(10) if a < b and (a + b) % 3 == 0)
_RELATION_WORDS = {
    ("on", "the", "left", "of"): "left of",
    ("on", "the", "right", "of"): "right of",
    ("to", "the", "left", "of"): "left of",
    ("to", "the", "right", "of"): "right of",
    ("above",): "above",
    ("below",): "below",
}


@dataclass(frozen=True)
class Digit:
    label: int
    source_index: int  # index into the digit pool of the split
    offset: tuple[int, int]  # x, y of the 28 x 28 patch on the canvas
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of its ink

    @property
    def centre(self) -> tuple[float, float]:
        return self.offset[0] + DIGIT / 2, self.offset[1] + DIGIT / 2


@dataclass(frozen=True)
class DigitScene:
    digits: tuple[Digit, ...]
    corner: str | None  # for one digit
    relation: str | None  # of digit 0 to digit 1

    NOUNS = frozenset(str(d) for d in range(10))  # the words that name a digit

    def is_correct(self, caption: list[str] | str) -> bool:
        return MNISTCaptions.is_correct(caption, self)

    def ground(self, caption: list[str]) -> list[int | None] | None:
        return MNISTCaptions.ground(caption, self)


def ink_box(patch: np.ndarray, offset: tuple[int, int]) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(patch)
    if len(xs) == 0:
        return offset[0], offset[1], offset[0] + DIGIT, offset[1] + DIGIT
    return (
        offset[0] + int(xs.min()),
        offset[1] + int(ys.min()),
        offset[0] + int(xs.max()) + 1,
        offset[1] + int(ys.max()) + 1,
    )


def corner_of(digit: Digit) -> str:
    cx, cy = digit.centre
    return ("top" if cy < CANVAS / 2 else "bottom") + " " + ("left" if cx < CANVAS / 2 else "right")


def parse(tokens: list[str]) -> tuple[list[int], list[str], str | None, list[tuple[int, int]]] | None:
    """(digits, relations, corner, word positions per digit) of a caption, or None."""

    def digit_at(i: int) -> int | None:
        if tokens[i : i + 2][:1] == ["the"] and tokens[i + 1 : i + 2] == ["digit"] and i + 2 < len(tokens):
            word = tokens[i + 2]
            return int(word) if word.isdigit() and len(word) == 1 else None
        return None

    first = digit_at(0)
    if first is None or tokens[3:4] != ["is"]:
        return None
    rest = tokens[4:]
    for corner in CORNERS:
        for form in (
            ["at", "the", *corner.split(), "of", "the", "image"],
            ["in", "the", *corner.split(), "of", "the", "image"],
            ["at", "the", *corner.split()],
        ):
            if rest == form:
                return [first], [], corner, [(1, 2)]
    for words, relation in _RELATION_WORDS.items():
        n = len(words)
        if tuple(rest[:n]) == words and len(rest) == n + 3:
            second = digit_at(4 + n)
            if second is not None:
                return [first, second], [relation], None, [(1, 2), (5 + n, 6 + n)]
    return None


class MNISTCaptions(Dataset):
    """One or two MNIST digits on a 60 x 60 canvas, with captions and boxes.

    Args:
        digits: (N, 28, 28) uint8 digit pool of this split (e.g. from :func:`load_mnist`).
        labels: (N,) digit labels.
        split: "train", "val", "test" or "compositional".
        length: number of scenes.
        seed: scenes are a function of (seed, split, index).
    """

    def __init__(
        self,
        digits: np.ndarray,
        labels: np.ndarray,
        split: Literal["train", "val", "test", "compositional"] = "train",
        length: int = 10000,
        seed: int = 0,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"MNISTCaptions: split must be one of {SPLITS}, got {split!r}")
        if digits.shape[1:] != (DIGIT, DIGIT) or len(digits) != len(labels):
            raise ValueError(
                f"MNISTCaptions: digits must be (N, 28, 28) with N labels, got {digits.shape} and {len(labels)}"
            )
        self.digits, self.labels = digits, np.asarray(labels)
        self.split, self.length, self.seed = split, length, seed
        self._by_label = [np.flatnonzero(self.labels == d) for d in range(10)]

    def __len__(self) -> int:
        return self.length

    def _pick(self, rng: np.random.Generator, label: int) -> int:
        pool = self._by_label[label]
        return int(pool[rng.integers(len(pool))])

    def scene(self, index: int) -> DigitScene:
        if not 0 <= index < self.length:
            raise IndexError(index)
        rng = np.random.default_rng((self.seed, SPLITS.index(self.split), index))
        if self.split != "compositional" and rng.random() < 0.5:
            corner = CORNERS[int(rng.integers(4))]
            x = int(rng.integers(0, 3)) if "left" in corner else CANVAS - DIGIT - int(rng.integers(0, 3))
            y = int(rng.integers(0, 3)) if "top" in corner else CANVAS - DIGIT - int(rng.integers(0, 3))
            label = int(rng.integers(10))
            return DigitScene((self._digit(label, self._pick(rng, label), (x, y)),), corner, None)
        while True:
            first, second = (int(v) for v in rng.integers(10, size=2))
            held = (first, second) in HOLDOUT_PAIRS
            if held == (self.split == "compositional"):
                break
        near, far, free = (
            int(rng.integers(0, 3)),
            CANVAS - DIGIT - int(rng.integers(0, 3)),
            int(rng.integers(0, CANVAS - DIGIT + 1)),
        )
        relation = ("left of", "above")[int(rng.integers(2))]
        offsets = [(near, free), (far, free)] if relation == "left of" else [(free, near), (free, far)]
        digits = tuple(self._digit(lab, self._pick(rng, lab), off) for lab, off in zip((first, second), offsets))
        return DigitScene(digits, None, relation)

    def _digit(self, label: int, source: int, offset: tuple[int, int]) -> Digit:
        return Digit(label, source, offset, ink_box(self.digits[source], offset))

    def render(self, scene: DigitScene) -> np.ndarray:
        canvas = np.zeros((CANVAS, CANVAS), dtype=np.uint8)
        for d in scene.digits:
            x, y = d.offset
            region = canvas[y : y + DIGIT, x : x + DIGIT]
            np.maximum(region, self.digits[d.source_index], out=region)
        return canvas

    @staticmethod
    def words() -> list[str]:
        """Every word the caption grammar can produce."""
        relation_words = sorted({w for words in _RELATION_WORDS for w in words})
        corner_words = ["top", "bottom", "left", "right"]
        return list(
            dict.fromkeys(
                ["the", "digit", "is", "at", "in", "of", "image", *map(str, range(10)), *corner_words, *relation_words]
            )
        )

    def captions(self, scene: DigitScene) -> list[list[str]]:
        """Paraphrases of the scene's caption, as token lists; the first is the main one."""
        if scene.corner is not None:
            head = ["the", "digit", str(scene.digits[0].label), "is"]
            corner = scene.corner.split()
            return [
                head + ["at", "the", *corner, "of", "the", "image"],
                head + ["in", "the", *corner, "of", "the", "image"],
                head + ["at", "the", *corner],
            ]
        a, b = (["the", "digit", str(d.label)] for d in scene.digits)
        rel = scene.relation
        on = lambda r: ["on", "the", *r.split()] if "of" in r else [r]
        return [a + ["is", *on(rel)] + b, b + ["is", *on(inverse(rel))] + a]

    def __getitem__(self, index: int) -> dict:
        scene = self.scene(index)
        image = torch.from_numpy(self.render(scene)).float().unsqueeze(0) / 255  # (1, 60, 60)
        return {"image": image, "captions": self.captions(scene), "scene": scene}

    @staticmethod
    def ground(caption: list[str], scene: DigitScene) -> list[int | None] | None:
        """For each token, the index of the digit it names, under an assignment that makes
        the caption true; None when the caption is not true of the scene."""
        parsed = parse(caption)
        if parsed is None or len(parsed[0]) != len(scene.digits):
            return None
        labels, relations, corner, positions = parsed
        if corner is not None and corner != corner_of(scene.digits[0]):
            return None
        assignment = match(labels, relations, scene.digits, lambda label, d: label == d.label)
        if assignment is None:
            return None
        owners: list[int | None] = [None] * len(caption)
        for span, obj in zip(positions, assignment):
            for pos in span:
                owners[pos] = obj
        return owners

    @staticmethod
    def is_correct(caption: list[str] | str, scene: DigitScene) -> bool:
        """True when the caption names every digit and its position or relation truly."""
        tokens = caption.split() if isinstance(caption, str) else list(caption)
        return MNISTCaptions.ground(tokens, scene) is not None
