"""Guided captioning: what the captioner's own backbone knows about a photo, as constraints and
bans for :func:`~vision_attention.models.constrained_decoding.constrained_beam_search`
(after Anderson, Fernando, Johnson & Gould 2017, "Guided Open Vocabulary Image Captioning with
Constrained Beam Search", https://arxiv.org/abs/1612.00576).

The backbone's unmodified ImageNet classifier (:meth:`~vision_attention.models.backbones.Backbone.imagenet_head`)
gives 1000 class probabilities. The shipped map ``pretrained/imagenet_words.json`` (built from
WordNet by ``datasets/imagenet_words.py``) says which vocabulary words name each class: the
evidence for a word is the summed probability of the classes it names ("bird": every bird
class). Then, for each photo:

* **constraint**: the most specific word whose evidence reaches ``constrain_at`` (people words
  aside) must be in the caption, as itself, a plural, or a more general word that names the
  same classes ({"swan", "swans", "bird", "birds"}): the captioner picks how it says it;
* **bans**: while that constraint is sure, the animal words whose evidence is under
  ``suppress_below`` are never said (no "dog" for an alligator). People words are never touched:
  ImageNet has no person class to contradict them. Words the map does not hold are left alone.

Legend: B images, W map words in the vocabulary, V vocabulary, C constraints per image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from ..pretrained import WORDS as WORDS_FILE
from ..vocab import Vocabulary

WORDS_FORMAT = "vision_attention/imagenet-words/1"


@dataclass(frozen=True)
class GuideSettings:
    """The thresholds of guided captioning.

    Args:
        constrain_at: evidence a word needs to become a constraint (the summed probability of
            its classes).
        suppress_below: an animal word with less evidence than this is banned while a
            constraint holds.
        max_constraints: most constraints per photo (each doubles the search's beams).
    """

    constrain_at: float = 0.4
    suppress_below: float = 0.05
    max_constraints: int = 1

    def __post_init__(self) -> None:
        for name in ("constrain_at", "suppress_below"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"guide {name} must be within [0, 1], got {value!r}")
        if not 0 <= self.max_constraints <= 4:
            raise ValueError(f"guide max_constraints must be 0 to 4, got {self.max_constraints!r}")


@dataclass
class GuideWord:
    """A constraint of one photo: the word, its evidence, the words that meet it, and whether
    the caption did."""

    word: str
    evidence: float
    accepts: list[str]
    met: bool | None = None

    def as_dict(self) -> dict:
        return {"word": self.word, "evidence": round(self.evidence, 4), "accepts": self.accepts, "met": self.met}


@dataclass
class Guidance:
    """What guided one photo's caption."""

    constraints: list[GuideWord] = field(default_factory=list)
    banned: list[str] = field(default_factory=list)
    gave_up: str | None = None  # why a constraint is not in the caption

    def as_dict(self) -> dict:
        return {
            "constraints": [c.as_dict() for c in self.constraints],
            "banned": self.banned,
            "gave_up": self.gave_up,
        }


class WordMap:
    """The ImageNet class -> word map, restricted to one vocabulary.

    Args:
        mapping: the JSON map (:func:`read_map`).
        vocab: the captioner's vocabulary; map words outside it are dropped.
    """

    def __init__(self, mapping: dict, vocab: Vocabulary) -> None:
        entries = {w: e for w, e in mapping["words"].items() if w in vocab}
        self.words = sorted(entries)
        index = {w: i for i, w in enumerate(self.words)}
        self.kinds = [entries[w]["kind"] for w in self.words]
        self.superordinate = torch.tensor([bool(entries[w].get("superordinate")) for w in self.words])  # (W,)
        self.forms = [[vocab.stoi[f] for f in entries[w]["forms"] if f in vocab] for w in self.words]
        classes = mapping["classes"]
        self.membership = torch.zeros(len(self.words), len(classes))  # (W, 1000) 1 where the word names the class
        for c, entry in enumerate(classes):
            for word in entry["words"]:
                if word in index:
                    self.membership[index[word], c] = 1.0
        named = self.membership.bool()
        # general[a, b]: b names every class a names (b is a or more general)
        self.general = ~(named[:, None, :] & ~named[None, :, :]).any(-1) & named.any(-1)[:, None]  # (W, W)
        self.labels = [entry["label"] for entry in classes]

    def evidence(self, probs: Tensor) -> Tensor:
        """Class probabilities (B, 1000) -> each word's evidence (B, W)."""
        return probs @ self.membership.to(probs.device, probs.dtype).T


def read_map(path: str | Path = WORDS_FILE) -> dict:
    """The word map at ``path``, checked to be one; one line naming the file otherwise."""
    path = Path(path)
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot read the ImageNet word map ({err})") from err
    if not isinstance(mapping, dict) or mapping.get("format") != WORDS_FORMAT:
        raise ValueError(f"{path}: not an ImageNet word map (format {WORDS_FORMAT!r} expected)")
    if len(mapping.get("classes", [])) != 1000 or not isinstance(mapping.get("words"), dict):
        raise ValueError(f"{path}: an ImageNet word map holds 1000 classes and a words table")
    return mapping


class Guide:
    """Turns class probabilities into each photo's constraints and bans.

    Args:
        words: the word map for the captioner's vocabulary.
        settings: the thresholds.
    """

    def __init__(self, words: WordMap, settings: GuideSettings | None = None) -> None:
        self.words, self.settings = words, settings or GuideSettings()

    def plan(self, probs: Tensor, vocab_size: int) -> tuple[Tensor | None, Tensor | None, list[Guidance]]:
        """(constraints (B, C, V) bool or None, bans (B, V) bool or None, one :class:`Guidance`
        per photo) for class probabilities (B, 1000)."""
        settings, words = self.settings, self.words
        evidence = words.evidence(probs.float()).cpu()  # (B, W)
        people = torch.tensor([k == "person" for k in words.kinds])
        animals = torch.tensor([k == "animal" for k in words.kinds]) & words.membership.bool().any(1)  # with evidence
        sure = (evidence >= settings.constrain_at) & ~people  # (B, W)
        certain = probs.float().max(1).values.cpu() >= settings.constrain_at  # (B,) one class is likely
        # the most specific sure words: no sure word names a strict part of their classes
        below = words.general.T & ~words.general  # below[a, b]: b names a strict subset of a's classes
        specific = sure & ~(sure.float() @ below.T.float()).bool()  # (B, W)
        plans, count = [], 0
        for b in range(len(probs)):
            guidance = Guidance()
            candidates = torch.where(specific[b] & ~words.superordinate)[0].tolist()  # never "a vehicle"
            for w in sorted(candidates, key=lambda w: -float(evidence[b, w])):
                taken = any(words.words[w] in c.accepts for c in guidance.constraints)  # a synonym's
                if taken or len(guidance.constraints) == settings.max_constraints:
                    continue
                accepts = torch.where(words.general[w])[0].tolist()  # w, its synonyms, the words above it
                guidance.constraints.append(
                    GuideWord(words.words[w], float(evidence[b, w]), [words.words[a] for a in accepts])
                )
            if guidance.constraints or certain[b]:  # the classifier sees something: what it rules out goes
                low = animals & (evidence[b] < settings.suppress_below)
                guidance.banned = [words.words[w] for w in torch.where(low)[0].tolist()]
            count = max(count, len(guidance.constraints))
            plans.append(guidance)
        index = {w: i for i, w in enumerate(words.words)}
        constraints = torch.zeros(len(probs), count, vocab_size, dtype=torch.bool) if count else None
        banned = torch.zeros(len(probs), vocab_size, dtype=torch.bool)
        for b, guidance in enumerate(plans):
            for c, constraint in enumerate(guidance.constraints):
                for word in constraint.accepts:
                    constraints[b, c, words.forms[index[word]]] = True
            for word in guidance.banned:
                banned[b, words.forms[index[word]]] = True
        return constraints, banned if banned.any() else None, plans
