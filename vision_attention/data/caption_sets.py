"""Caption data sets as models consume them, and the padding collate.

Every source of captioned images yields dicts with ``image`` (C, H, W) float in
[0, 1] (or ``features`` (L, D) from a feature cache), ``captions`` (token lists)
and optionally ``scene`` (ground truth of the synthetic sets). These wrappers
turn them into training items (one caption drawn at random per visit, so an
epoch is one pass over the images) or evaluation items (the first caption, with
all captions as references), and :func:`collate_captions` pads a batch.

Legend: B batch, T caption length with <start> and <end>, C channels, L = h*w, D feature size.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..vocab import Vocabulary
from .caption_files import CaptionedImage
from .image_decoding import BadImageError, load_rgb

_warned: set[str] = set()


class CaptionedImages(Dataset):
    """Captioned photos from disk, decoded safely.

    Args:
        records: images with their captions.
        transform: PIL image -> (C, H, W) tensor.
        skip_bad_images: on an undecodable image warn once and return None (the collate
            drops it) instead of raising; ``skipped`` counts them in this process.
    """

    def __init__(self, records: list[CaptionedImage], transform: Callable, skip_bad_images: bool = False) -> None:
        self.records, self.transform, self.skip_bad_images = records, transform, skip_bad_images
        self.skipped = 0

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict | None:
        record = self.records[index]
        try:
            image = load_rgb(record.path)
        except BadImageError as err:
            if not self.skip_bad_images:
                raise
            self.skipped += 1
            if str(record.path) not in _warned:
                _warned.add(str(record.path))
                warnings.warn(f"skipping bad image: {err}", stacklevel=2)
            return None
        return {"image": self.transform(image), "captions": record.captions, "path": str(record.path)}


# Words a mirror image makes wrong, and what they become.
MIRROR_WORDS = {"left": "right", "right": "left"}


def mirror_captions(captions: list[list[str]]) -> list[list[str]]:
    """The captions of the mirror image: left and right swapped, every other word kept."""
    return [[MIRROR_WORDS.get(word, word) for word in caption] for caption in captions]


def mirror_image(image: Tensor) -> Tensor:
    """(..., H, W) -> the same image flipped left to right."""
    return image.flip(-1)


class RandomMirror(Dataset):
    """Each visit gives the item or its mirror image, at random with even odds: a
    captioning data set twice as varied, the standard horizontal-flip augmentation.

    Args:
        plain: the items (``image`` or ``features``, ``captions``).
        mirrored: the same items from mirror images (their features, for a feature cache),
            in the same order; their captions are mirrored here.
    """

    def __init__(self, plain: Dataset, mirrored: Dataset) -> None:
        if len(plain) != len(mirrored):
            raise ValueError(f"{len(plain)} items but {len(mirrored)} mirror images")
        self.plain, self.mirrored = plain, mirrored

    def __len__(self) -> int:
        return len(self.plain)

    def __getitem__(self, index: int) -> dict | None:
        if bool(torch.rand(()) < 0.5):
            return self.plain[index]
        item = self.mirrored[index]
        return None if item is None else {**item, "captions": mirror_captions(item["captions"])}


class CaptionItems(Dataset):
    """Encodes captions of a source for a model.

    Args:
        source: a data set of dicts with ``image`` or ``features``, and ``captions``.
        vocab: the vocabulary.
        train: draw one caption at random per visit (training) or take the first (evaluation).
    """

    def __init__(self, source: Dataset, vocab: Vocabulary, train: bool) -> None:
        self.source, self.vocab, self.train = source, vocab, train

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict | None:
        item = self.source[index]
        if item is None:
            return None
        captions = item["captions"]
        pick = int(torch.randint(len(captions), ())) if self.train else 0
        out = {k: v for k, v in item.items() if k != "captions"}
        out["caption"] = torch.tensor(self.vocab.encode(captions[pick]))  # (T,)
        out["references"] = captions
        out["index"] = index
        return out


class Passenger:
    """Per-item ground truth that rides along with a batch untouched (Lightning's device
    transfer does not look inside it). Index it like a list."""

    def __init__(self, items: list) -> None:
        self.items = items

    def __getitem__(self, index: int):
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)


def pad_captions(captions: list[Tensor], pad_id: int = Vocabulary.pad_id) -> tuple[Tensor, Tensor]:
    """Right-pad id sequences: -> (B, T) ids and (B,) lengths."""
    lengths = torch.tensor([len(c) for c in captions])
    padded = torch.full((len(captions), int(lengths.max())), pad_id, dtype=torch.long)  # (B, T)
    for i, c in enumerate(captions):
        padded[i, : len(c)] = c
    return padded, lengths


def collate_captions(items: list[dict | None]) -> dict:
    """Batch caption items, dropping the None of skipped images.

    Returns a dict with ``captions`` (B, T), ``lengths`` (B,), ``images`` (B, C, H, W) or
    ``features`` (B, L, D), ``references`` (token lists per image, as a :class:`Passenger`), ``index`` (B,),
    and ``scenes`` / ``paths`` when the source has them.
    """
    items = [it for it in items if it is not None]
    if not items:
        return {}
    captions, lengths = pad_captions([it["caption"] for it in items])
    # References ride as a Passenger: Lightning would otherwise walk every word of them
    # on each device transfer (5 ms of a 200 ms ShapesCaptions step).
    batch = {
        "captions": captions,
        "lengths": lengths,
        "references": Passenger([it["references"] for it in items]),
        "index": torch.tensor([it["index"] for it in items]),
    }
    for key, name in (("image", "images"), ("features", "features")):
        if key in items[0]:
            batch[name] = torch.stack([it[key] for it in items])
    if "scene" in items[0]:
        batch["scenes"] = Passenger([it["scene"] for it in items])
    if "path" in items[0]:
        batch["paths"] = [it["path"] for it in items]
    return batch
