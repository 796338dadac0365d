"""Caption annotations from disk: the Karpathy split JSON and the ``captions.txt`` format.

* Karpathy JSON (``dataset_coco.json``, ``dataset_flickr8k.json``,
  ``dataset_flickr30k.json``): ``{"images": [{"filename", "filepath"?, "split",
  "sentences": [{"tokens": [...], "raw": ...}]}]}``; the "restval" split of COCO
  counts as training.
* ``captions.txt`` (the common Kaggle Flickr8k layout): a header ``image,caption``
  and one ``image,caption`` row per caption, split on the FIRST comma since
  captions contain commas. Its split comes from the official Flickr8k split lists
  beside it when they are there (:func:`apply_split_lists`: ``Flickr_8k.trainImages.txt``,
  ``Flickr_8k.devImages.txt``, ``Flickr_8k.testImages.txt``, one image name a line; the
  dev list is the validation split); otherwise :func:`seeded_split` makes one.

:func:`check_images` validates every image path up front, so a missing file is
reported at setup with the others, not an hour into an epoch.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from ..vocab import tokenize


@dataclass
class CaptionedImage:
    path: Path
    captions: list[list[str]]  # token lists
    split: str  # "train", "val" or "test"


def read_karpathy_json(path: str | Path, image_root: str | Path) -> list[CaptionedImage]:
    """Images with their tokenised captions and split from a Karpathy split file."""
    path, image_root = Path(path), Path(image_root)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        records = []
        for entry in data["images"]:
            split = "train" if entry["split"] == "restval" else entry["split"]
            folder = image_root / entry["filepath"] if entry.get("filepath") else image_root
            captions = [s["tokens"] if s.get("tokens") else tokenize(s["raw"]) for s in entry["sentences"]]
            records.append(CaptionedImage(folder / entry["filename"], captions, split))
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a Karpathy split file ({type(err).__name__}: {err})") from err
    return records


def read_captions_txt(path: str | Path, image_root: str | Path) -> list[CaptionedImage]:
    """Images and tokenised captions from an ``image,caption`` file, in order of first
    appearance, with split "train" (use :func:`seeded_split`)."""
    path, image_root = Path(path), Path(image_root)
    by_image: dict[str, list[list[str]]] = {}
    lines = read_text_lines(path)
    if not lines or lines[0].strip().lower() != "image,caption":
        raise ValueError(f"{path}:1: expected the header 'image,caption', found {lines[0][:60]!r}")
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        name, sep, caption = line.partition(",")
        if not sep or not name or not caption.strip():
            raise ValueError(f"{path}:{number}: expected 'image,caption', found {line[:60]!r}")
        by_image.setdefault(name.strip(), []).append(tokenize(caption))
    if not by_image:
        raise ValueError(f"{path}: no captions after the header")
    return [CaptionedImage(image_root / name, caps, "train") for name, caps in by_image.items()]


def read_text_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file (split on LF only); a byte that is not UTF-8 is an
    error naming the file, the line and the byte."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8").split("\n")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: byte 0x{data[err.start]:02x} is not UTF-8 (save the file as UTF-8)") from err


SPLIT_LISTS = {
    "train": "Flickr_8k.trainImages.txt",
    "val": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}


def split_lists_present(folder: str | Path) -> bool:
    """Whether ``folder`` holds the official split lists (train and dev at least)."""
    return all((Path(folder) / SPLIT_LISTS[s]).is_file() for s in ("train", "val"))


def apply_split_lists(records: list[CaptionedImage], folder: str | Path) -> list[CaptionedImage]:
    """Keep the images named in the split lists of ``folder``, each with its list's split
    (the test list is optional: its owners may keep it). An image named twice, or a listed
    image without captions, is an error naming the list and line."""
    by_name = {r.path.name: r for r in records}
    split_of: dict[str, str] = {}
    for split, file in SPLIT_LISTS.items():
        path = Path(folder) / file
        if not path.is_file():
            continue
        for number, line in enumerate(read_text_lines(path), start=1):
            name = line.strip()
            if not name:
                continue
            if name in split_of:
                raise ValueError(f"{path}:{number}: {name} is already in the {split_of[name]} split")
            if name not in by_name:
                raise ValueError(f"{path}:{number}: {name} has no captions in captions.txt")
            split_of[name] = split
    kept = [r for r in records if r.path.name in split_of]
    for r in kept:
        r.split = split_of[r.path.name]
    return kept


def seeded_split(records: list[CaptionedImage], val: float, test: float = 0, seed: int = 0) -> list[CaptionedImage]:
    """Assign "val"/"test"/"train" by a seeded shuffle of the images (a share or a count)."""
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    n_val = round(val * len(records)) if isinstance(val, float) else val
    n_test = round(test * len(records)) if isinstance(test, float) else test
    for rank, i in enumerate(order):
        records[i].split = "val" if rank < n_val else "test" if rank < n_val + n_test else "train"
    return records


def check_images(records: list[CaptionedImage], shown: int = 5) -> None:
    """Raise one FileNotFoundError listing the first missing images and their count."""
    missing = [str(r.path) for r in records if not r.path.is_file()]
    if missing:
        listed = "\n  ".join(missing[:shown])
        raise FileNotFoundError(f"{len(missing)} of {len(records)} images are missing, e.g.:\n  {listed}")


def read_caption_records(
    annotations: str | Path,
    image_root: str | Path | None = None,
    val_share: float = 0.1,
    test_share: float = 0.1,
    split_seed: int = 0,
) -> list[CaptionedImage]:
    """Every captioned image of a Karpathy JSON or a ``captions.txt`` with its split: the
    official split lists beside the file when they are there, else a seeded split. Images
    are looked up in ``image_root``, by default the ``images`` folder beside the file (or
    the file's own folder); a missing image is an error listing them."""
    path = Path(annotations)
    if not path.is_file():
        raise FileNotFoundError(f"caption annotations {path} not found")
    root = (
        Path(image_root)
        if image_root
        else (path.parent / "images" if (path.parent / "images").is_dir() else path.parent)
    )
    if path.suffix == ".json":
        records = read_karpathy_json(path, root)
    elif split_lists_present(path.parent):
        records = apply_split_lists(read_captions_txt(path, root), path.parent)
    else:
        records = seeded_split(read_captions_txt(path, root), val_share, test_share, split_seed)
    check_images(records)
    return records
