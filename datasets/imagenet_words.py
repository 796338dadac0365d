"""The ImageNet class -> caption word map that guided captioning reads
(``vision_attention/pretrained/imagenet_words.json``): for each of the 1000 ImageNet classes, the
words of a captioner's vocabulary that name it, most specific first: the class's own WordNet
lemmas and those of its hypernyms, down from the generic top. Built once here from WordNet 3.0
(nltk's ``wordnet`` corpus, ``NLTK_DATA``) and the class list timm ships, so that captioning
needs no WordNet at run time.

    python datasets/imagenet_words.py --out vision_attention/pretrained/imagenet_words.json

A vocabulary word names a synset only when that synset is the word's predominant noun sense
(no other noun sense of it has a higher SemCor count in WordNet): "good" is not the commodity,
"seal" not the sea lion. Synsets at the generic top (object, organism, animal, artifact, device,
container ...) name nothing: "an animal" does not say what is in the photo. A short list of
words that captions use in another part of speech ("wear", "stand", "watch") or as a colour
("orange") is left out by hand, since WordNet cannot know how captions use them. A class with
no word left says so (``note``) instead of taking a wrong one. Each word records its synset,
its kind (animal, person or thing: guidance never touches people words, ImageNet has no person
class to contradict them) and its forms in the vocabulary (the plural: "dogs" for "dog").

The captioner's vocabulary comes from a shipped model's (or any model folder's) config.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMAT = "vision_attention/imagenet-words/1"

# The generic top: a caption naming one of these does not say what is in the photo.
GENERIC = [
    "entity.n.01",
    "physical_entity.n.01",
    "abstraction.n.06",
    "object.n.01",
    "whole.n.02",
    "living_thing.n.01",
    "organism.n.01",
    "animal.n.01",
    "person.n.01",
    "causal_agent.n.01",
    "artifact.n.01",
    "instrumentality.n.03",
    "device.n.01",
    "container.n.01",
    "covering.n.02",
    "commodity.n.01",
    "structure.n.01",
    "equipment.n.01",
    "instrument.n.01",
    "implement.n.01",
    "location.n.01",
    "surface.n.01",
    "medium.n.01",
    "matter.n.03",
    "substance.n.01",
    "solid.n.01",
    "food.n.01",
    "food.n.02",
    "part.n.01",
    "part.n.02",
    "piece.n.01",
    "liquid.n.01",
    "geological_formation.n.01",
]
# Superordinate categories a caption may name a class with but a constraint never asks for: on
# Flickr8k dev they were most of the constraints no reference used (clothing 32, vehicle 26 and
# toy 12 of 471 photos): people wear clothes and ride bikes ("a man rides a vehicle").
SUPERORDINATE = ["clothing.n.01", "attire.n.01", "apparel.n.01", "vehicle.n.01", "plaything.n.01"]
# Vocabulary words that captions use mostly as a verb, an adjective or a colour, not as the noun
# WordNet finds for a class (checked by hand against the Flickr8k captions).
NOT_NOUNS = [
    "wear",
    "works",
    "vertical",
    "cover",
    "fly",
    "stand",
    "watch",
    "match",
    "sign",
    "light",
    "can",
    "tie",
    "bars",
    "swing",
    "shades",
    "lounge",
    "jack",
    "mini",
    "pick",
    "orange",
    "spot",
    "work",
    "ride",
    "round",
    "figure",
    "pattern",
    "display",
    "female",
    "male",
    "young",
    "giant",
    "hind",
    "bat",
]


def synset_words(synset, vocab: set[str], wn) -> list[str]:
    """``synset``'s single-word lemmas that are in ``vocab`` and name it as their predominant noun sense."""
    words = []
    for lemma in synset.lemmas():
        word = lemma.name().lower()
        if word not in vocab or word in NOT_NOUNS or word in words:
            continue
        mine = lemma.count()
        others = [
            other.count()
            for s in wn.synsets(word, wn.NOUN)
            if s != synset
            for other in s.lemmas()
            if other.name().lower() == word
        ]
        if all(count <= mine for count in others):
            words.append(word)
    return words


def predominant_sense(word: str, wn):
    """The noun synset ``word`` names most often (SemCor counts, WordNet's order on ties), if any."""
    senses = wn.synsets(word, wn.NOUN)
    if not senses or wn.morphy(word, wn.NOUN) != word:
        return None
    count = lambda s: sum(lemma.count() for lemma in s.lemmas() if lemma.name().lower() == word)
    return max(senses, key=lambda s: (count(s), -senses.index(s)))


def kind_of(synset, wn) -> str:
    ancestors = {a.name() for path in synset.hypernym_paths() for a in path}
    if "person.n.01" in ancestors or "homo.n.02" in ancestors:  # WordNet puts humans among the animals too
        return "person"
    return "animal" if "animal.n.01" in ancestors else "thing"


def forms_of(word: str, vocab: list[str], wn) -> list[str]:
    """The vocabulary's forms of the noun ``word``: itself and its plurals ("dog", "dogs")."""
    return [t for t in vocab if t == word or (t != word and wn.morphy(t, wn.NOUN) == word and t not in NOT_NOUNS)]


def build(vocab: list[str], wn, wnids: list[str], labels: list[str]) -> dict:
    """The map of the 1000 classes (``wnids`` in the standard order) into ``vocab``."""
    known, generic = set(vocab), set(GENERIC)
    words: dict[str, dict] = {}
    classes = []
    for wnid, label in zip(wnids, labels):
        synset = wn.synset_from_pos_and_offset("n", int(wnid[1:]))
        # the class, then its hypernyms nearest first (breadth-first over every path)
        order, frontier, seen = [], [synset], {synset}
        while frontier:
            order += frontier
            nxt = []
            for s in frontier:
                for parent in sorted(s.hypernyms() + s.instance_hypernyms(), key=lambda p: p.name()):  # nltk: a set
                    if parent not in seen:
                        seen.add(parent)
                        nxt.append(parent)
            frontier = nxt
        named = []
        for s in order:
            if s.name() in generic:
                continue
            for word in synset_words(s, known, wn):
                if word in words and words[word]["synset"] != s.name():
                    continue  # a word names one synset: its predominant sense
                entry = {"synset": s.name(), "kind": kind_of(s, wn), "forms": forms_of(word, vocab, wn)}
                if s.name() in SUPERORDINATE:
                    entry["superordinate"] = True
                words.setdefault(word, entry)
                if word not in named:
                    named.append(word)
        entry = {"wnid": wnid, "label": label, "words": named}
        if not named:
            entry["note"] = "no vocabulary word names it below the generic top"
        classes.append(entry)
    for word in vocab:  # the animals no class is under ("giraffe"): a scorer needs them to see a wrong animal
        synset = predominant_sense(word, wn)
        if word in words or word in NOT_NOUNS or synset is None or synset.name() in generic:
            continue
        if kind_of(synset, wn) == "animal":
            words[word] = {"synset": synset.name(), "kind": "animal", "forms": forms_of(word, vocab, wn)}
    return {
        "format": FORMAT,
        "about": "ImageNet classes -> the caption words that name them, most specific first "
        "(datasets/imagenet_words.py; WordNet 3.0)",
        "vocabulary_sha256": vocabulary_digest(vocab),
        "generic": GENERIC,
        "superordinate": SUPERORDINATE,
        "words": dict(sorted(words.items())),
        "classes": classes,
    }


def vocabulary_digest(itos: list[str]) -> str:
    return hashlib.sha256("\n".join(itos).encode("utf-8")).hexdigest()


def dumps(mapping: dict) -> str:
    """One line per word and per class: a diff of two builds reads as a list of changes."""
    head = {k: v for k, v in mapping.items() if k not in ("words", "classes")}
    lines = ["{"] + [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
    lines.append(' "words": {')
    items = list(mapping["words"].items())
    lines += [
        f"  {json.dumps(w)}: {json.dumps(e)}" + ("," if i < len(items) - 1 else "") for i, (w, e) in enumerate(items)
    ]
    lines.append(" },")
    lines.append(' "classes": [')
    count = len(mapping["classes"])
    lines += [f"  {json.dumps(c)}" + ("," if i < count - 1 else "") for i, c in enumerate(mapping["classes"])]
    lines += [" ]", "}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the JSON map to write")
    parser.add_argument(
        "--model",
        default="sat-soft-flickr8k",
        help="the captioner whose vocabulary the words come from "
        "(a shipped name or a model folder; default sat-soft-flickr8k)",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from nltk.corpus import wordnet as wn
    from timm.data import ImageNetInfo

    folder = Path(args.model) if "/" in args.model else ROOT / "vision_attention" / "pretrained" / args.model
    try:
        vocab = json.loads((folder / "config.json").read_text(encoding="utf-8"))["vocab"]["itos"]
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as err:
        raise SystemExit(f"{folder / 'config.json'}: no captioner vocabulary there ({err})") from err
    try:
        wn.ensure_loaded()
    except LookupError as err:
        raise SystemExit(
            "WordNet is not installed for nltk: point NLTK_DATA at a tree holding corpora/wordnet"
        ) from err
    info = ImageNetInfo()
    wnids = list(info.label_names())
    labels = [info.index_to_description(i).split(",")[0] for i in range(len(wnids))]
    mapping = build(vocab, wn, wnids, labels)
    args.out.write_text(dumps(mapping), encoding="utf-8")
    unnamed = sum(1 for c in mapping["classes"] if not c["words"])
    print(f"{args.out}: {len(mapping['words'])} words for {len(wnids) - unnamed} of {len(wnids)} classes")


if __name__ == "__main__":
    main()
