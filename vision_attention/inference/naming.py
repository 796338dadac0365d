"""Does a caption name what is in the photo? Scored on photos of known ImageNet classes (such as
one photo per class, files named ``<wnid>_<label>.JPEG``) with the class -> word map that
guided captioning reads (``pretrained/imagenet_words.json``, built from WordNet):

* **named**: the caption holds a word that names the photo's class: its own name or a WordNet
  hypernym's, below the generic top ("swan" or "bird" for a black swan; not "animal");
* **wrong animal**: the caption names an animal that is neither the class nor a hypernym of it
  ("dog" for an alligator).

Words are matched as whole tokens, in any of their vocabulary forms ("dogs" for "dog"); a word
WordNet gives another main sense ("seal" is a stamp first) or that captions use otherwise
("orange" is a colour) is not in the map, so the figures count only what the map can tell.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .guidance import read_map

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


def class_photos(folder: str | Path, mapping: dict | None = None) -> list[tuple[Path, int]]:
    """(photo, class index) for each ``<wnid>_<label>.<suffix>`` image in ``folder``, sorted; a file
    named otherwise, or with a wnid outside the 1000 classes, is one line naming it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder of class photos")
    mapping = mapping or read_map()
    index = {c["wnid"]: i for i, c in enumerate(mapping["classes"])}
    photos = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
        wnid = path.name.split("_", 1)[0]
        if wnid not in index:
            raise ValueError(f"{path}: not named <wnid>_<label> with one of the 1000 ImageNet wnids")
        photos.append((path, index[wnid]))
    if not photos:
        raise ValueError(f"{folder}: no <wnid>_<label>.JPEG photos")
    return photos


def naming_scores(captions: Sequence[Sequence[str]], classes: Sequence[int], mapping: dict | None = None) -> dict:
    """The shares of ``captions`` (token lists) that name their photo's class, and that name a
    wrong animal, with the counts behind them."""
    mapping = mapping or read_map()
    words, table = mapping["words"], mapping["classes"]
    form_of = {form: word for word, entry in words.items() for form in entry["forms"]}
    animals = {word for word, entry in words.items() if entry["kind"] == "animal"}
    named = wrong = nameable = 0
    for tokens, c in zip(captions, classes):
        said = {form_of[t] for t in tokens if t in form_of}
        right = set(table[c]["words"])
        nameable += bool(right)
        named += bool(said & right)
        wrong += bool((said & animals) - right)
    count = max(len(captions), 1)
    return {
        "photos": len(captions),
        "named": named / count,
        "wrong_animal": wrong / count,
        "named_count": named,
        "wrong_animal_count": wrong,
        "nameable": nameable,  # photos whose class some vocabulary word names: the most that can be named
    }
