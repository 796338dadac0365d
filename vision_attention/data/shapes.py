"""ShapesCaptions: synthetic captioned scenes with ground-truth boxes.

Each 64 x 64 RGB image (by default) holds 1 to 3 objects, each a shape, a colour
and a size, placed without overlap. Captions come from a small grammar that
names every object and relates neighbours ("a small red circle left of a large
blue square"), in several paraphrases. Every word of an object phrase maps to
that object's box, the ground truth for where attention should look, and
:meth:`ShapesCaptions.is_correct` says whether any caption describes a scene
truly and completely.

Objects in the main caption appear left to right; scenes are drawn so that the
horizontal gap between neighbours and the dominant axis of each relation are
clear. Scenes are a pure function of (seed, split, index). The "compositional"
split holds only scenes with a (colour, shape) pair that the other splits never
contain; train, val and test never share a scene.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.utils.data import Dataset

from .scene_grammar import dominant_relation, inverse, match

SHAPES = ("circle", "square", "triangle")
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (50, 90, 235),
    "yellow": (235, 215, 40),
    "purple": (160, 60, 210),
}
SIZES = {"small": 0.16, "large": 0.3}  # side of the object's box, as a share of the image side
# (colour, shape) pairs kept out of train/val/test, found only in the compositional split.
HOLDOUT = frozenset(
    {("red", "triangle"), ("green", "circle"), ("blue", "square"), ("yellow", "triangle"), ("purple", "square")}
)
SPLITS = ("train", "val", "test", "compositional")
_RELATION_WORDS = {
    ("left", "of"): "left of",
    ("right", "of"): "right of",
    ("to", "the", "left", "of"): "left of",
    ("to", "the", "right", "of"): "right of",
    ("above",): "above",
    ("below",): "below",
}


@dataclass(frozen=True)
class ShapeObject:
    shape: str
    colour: str
    size: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1: pixels x0 <= x < x1, y0 <= y < y1

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2

    def phrase(self) -> list[str]:
        return ["a", self.size, self.colour, self.shape]


@dataclass(frozen=True)
class Scene:
    objects: tuple[ShapeObject, ...]  # left to right
    image_size: int

    NOUNS = frozenset(SHAPES)  # the words that name an object

    def is_correct(self, caption: list[str] | str) -> bool:
        return ShapesCaptions.is_correct(caption, self)

    def ground(self, caption: list[str]) -> list[int | None] | None:
        return ShapesCaptions.ground(caption, self)

    def render(self) -> Image.Image:
        image = Image.new("RGB", (self.image_size, self.image_size))
        draw = ImageDraw.Draw(image)
        for obj in self.objects:
            draw_object(draw, obj)
        return image


@dataclass(frozen=True)
class Phrase:
    size: str | None
    colour: str | None
    shape: str
    positions: tuple[int, ...]  # token indices of the words naming the object


def draw_object(draw: ImageDraw.ImageDraw, obj: ShapeObject) -> None:
    x0, y0, x1, y1 = obj.box
    corners = (x0, y0, x1 - 1, y1 - 1)  # PIL's boxes include their last pixel
    colour = COLOURS[obj.colour]
    if obj.shape == "circle":
        draw.ellipse(corners, fill=colour)
    elif obj.shape == "square":
        draw.rectangle(corners, fill=colour)
    else:
        draw.polygon([((x0 + x1 - 1) / 2, y0), (x0, y1 - 1), (x1 - 1, y1 - 1)], fill=colour)


def chain_captions(phrases: list[list[str]], relations: list[str]) -> list[list[str]]:
    """Paraphrases of the chain phrase_0 rel_0 phrase_1 ...: as is, with "to the",
    read backwards with inverse relations, and with "there is"."""

    def join(parts: list[list[str]], rels: list[str], long_form: bool) -> list[str]:
        words = list(parts[0])
        for rel, part in zip(rels, parts[1:]):
            rel_words = rel.split()
            if long_form and rel in ("left of", "right of"):
                rel_words = ["to", "the", *rel_words]
            words += rel_words + part
        return words

    forward = join(phrases, relations, long_form=False)
    if not relations:
        return [forward, ["there", "is", *forward], [*forward, "in", "the", "image"]]
    backward = join(phrases[::-1], [inverse(r) for r in relations[::-1]], long_form=False)
    return [forward, join(phrases, relations, long_form=True), backward, ["there", "is", *forward]]


def parse(tokens: list[str]) -> tuple[list[Phrase], list[str]] | None:
    """Object phrases and relations of a caption, or None when it is not in the grammar."""
    start, end = 0, len(tokens)
    if tokens[:2] == ["there", "is"]:
        start = 2
    if tokens[-3:] == ["in", "the", "image"]:
        end -= 3
    phrases, relations, i = [], [], start
    while True:
        if i >= end or tokens[i] not in ("a", "an"):
            return None
        i += 1
        size = colour = None
        positions = []
        if i < end and tokens[i] in SIZES:
            size, i = tokens[i], i + 1
            positions.append(i - 1)
        if i < end and tokens[i] in COLOURS:
            colour, i = tokens[i], i + 1
            positions.append(i - 1)
        if i >= end or tokens[i] not in SHAPES:
            return None
        phrases.append(Phrase(size, colour, tokens[i], (*positions, i)))
        i += 1
        if i == end:
            return phrases, relations
        for words, relation in _RELATION_WORDS.items():
            if tuple(tokens[i : i + len(words)]) == words:
                relations.append(relation)
                i += len(words)
                break
        else:
            return None


def _fits(phrase: Phrase, obj: ShapeObject) -> bool:
    return phrase.shape == obj.shape and phrase.size in (None, obj.size) and phrase.colour in (None, obj.colour)


class ShapesCaptions(Dataset):
    """Captioned shape scenes with boxes: the embedded default data set.

    Args:
        split: "train", "val", "test" or "compositional".
        length: number of scenes.
        image_size: side of the square images in pixels.
        seed: the data set's seed; scenes are a function of (seed, split, index).
        max_objects: objects per scene are drawn from 1..max_objects.
    """

    def __init__(
        self,
        split: Literal["train", "val", "test", "compositional"] = "train",
        length: int = 10000,
        image_size: int = 64,
        seed: int = 0,
        max_objects: int = 3,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"ShapesCaptions: split must be one of {SPLITS}, got {split!r}")
        self.split, self.length, self.image_size, self.seed = split, length, image_size, seed
        self.max_objects = max_objects
        combos = [(c, s) for c in COLOURS for s in SHAPES]
        self._seen = [c for c in combos if c not in HOLDOUT]
        self._held = sorted(HOLDOUT)
        self._scenes: dict[int, Scene] = {}  # placing a scene by rejection costs 2/3 of an item

    def __len__(self) -> int:
        return self.length

    def scene(self, index: int) -> Scene:
        """The scene at ``index`` (deterministic, so each is placed once and kept)."""
        if not 0 <= index < self.length:
            raise IndexError(index)
        if index not in self._scenes:
            self._scenes[index] = self._new_scene(index)
        return self._scenes[index]

    def _new_scene(self, index: int) -> Scene:
        rng = np.random.default_rng((self.seed, SPLITS.index(self.split), index))
        count = int(rng.integers(1, self.max_objects + 1))
        while True:
            objects = self._place(rng, count)
            if objects is not None and self._belongs_here(objects):
                return Scene(objects, self.image_size)

    def _belongs_here(self, objects: tuple[ShapeObject, ...]) -> bool:
        """Train, val and test own disjoint buckets of the scene space (80/10/10 by a
        stable hash), so that no scene occurs in two of them."""
        if self.split == "compositional":  # disjoint from the rest by its held-out pairs
            return True
        bucket = hashlib.sha1(repr(objects).encode()).digest()[0] % 10
        return {"train": bucket < 8, "val": bucket == 8, "test": bucket == 9}[self.split]

    def _place(self, rng: np.random.Generator, count: int) -> tuple[ShapeObject, ...] | None:
        attributes = [self._seen[i] for i in rng.integers(len(self._seen), size=count)]
        if self.split == "compositional":
            attributes[int(rng.integers(count))] = self._held[int(rng.integers(len(self._held)))]
        objects = []
        for colour, shape in attributes:
            size = ("small", "large")[int(rng.integers(2))]
            side = round(SIZES[size] * self.image_size)
            x0, y0 = (int(v) for v in rng.integers(1, self.image_size - side, size=2))
            objects.append(ShapeObject(shape, colour, size, (x0, y0, x0 + side, y0 + side)))
        objects.sort(key=lambda o: o.centre[0])
        gap = max(2, self.image_size // 32)
        for a, b in itertools.pairwise(objects):
            if b.centre[0] - a.centre[0] < 0.1 * self.image_size or dominant_relation(a, b, 1.5) is None:
                return None
        for i, a in enumerate(objects):
            for b in objects[i + 1 :]:
                if _boxes_touch(a.box, b.box, gap):
                    return None
        return tuple(objects)

    @staticmethod
    def words() -> list[str]:
        """Every word the caption grammar can produce."""
        relation_words = sorted({w for words in _RELATION_WORDS for w in words})
        return list(
            dict.fromkeys(["a", "there", "is", "in", "the", "image", *SIZES, *COLOURS, *SHAPES, *relation_words])
        )

    def captions(self, scene: Scene) -> list[list[str]]:
        """Every paraphrase of the scene's caption, as token lists; the first is the main one."""
        relations = [dominant_relation(a, b, 1.0) for a, b in zip(scene.objects, scene.objects[1:])]
        return chain_captions([o.phrase() for o in scene.objects], relations)

    def __getitem__(self, index: int) -> dict:
        scene = self.scene(index)
        image = torch.from_numpy(np.array(scene.render())).permute(2, 0, 1).float() / 255  # (3, H, W)
        return {"image": image, "captions": self.captions(scene), "scene": scene}

    @staticmethod
    def ground(caption: list[str], scene: Scene) -> list[int | None] | None:
        """For each token, the index of the object it names (None for other words), under an
        assignment that makes the caption true; None when the caption is not true of the scene."""
        parsed = parse(caption)
        if parsed is None:
            return None
        phrases, relations = parsed
        assignment = match(phrases, relations, scene.objects, _fits)
        if assignment is None:
            return None
        owners: list[int | None] = [None] * len(caption)
        for phrase, obj in zip(phrases, assignment):
            for pos in phrase.positions:
                owners[pos] = obj
        return owners

    @staticmethod
    def is_correct(caption: list[str] | str, scene: Scene) -> bool:
        """True when the caption mentions every object once, and every stated size, colour,
        shape and relation is true of the scene."""
        tokens = caption.split() if isinstance(caption, str) else list(caption)
        parsed = parse(tokens)
        if parsed is None or len(parsed[0]) != len(scene.objects):
            return False
        return ShapesCaptions.ground(tokens, scene) is not None


def _boxes_touch(a: tuple[int, ...], b: tuple[int, ...], gap: int) -> bool:
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap
