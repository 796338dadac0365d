"""A trained captioner scored on a split of a captions file, without Lightning: the figures
of the model cards and of ``vision-attention score``.

The photos go through the path users take (decoded from disk, :class:`Captioner`'s
preprocessing, the whole encoder, batched beam search), not a feature cache, so a card's
figure is what a user of the model gets. Metrics: nltk BLEU-1..4, CIDEr-D and METEOR (with
WordNet), and with ``official`` the COCO caption code's (``coco_*``, pycocoevalcap; METEOR
needs Java and is None without it), plus how varied the captions are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from ..data.caption_files import CaptionedImage
from ..data.image_decoding import load_rgb
from ..metrics import (
    FUNCTION_WORDS,
    PEOPLE_WORDS,
    attention_entropy,
    attention_top_share,
    caption_metrics,
    coco_metrics,
)
from ..resources import check_int
from .captioner import Caption, Captioner
from .guidance import read_map
from .naming import class_photos, naming_scores


def caption_records(
    captioner: Captioner,
    records: Sequence[CaptionedImage],
    beam_size: int = 3,
    batch_size: int = 32,
    progress: bool = False,
) -> list[list[str]]:
    """The words of each record's photo, captioned in batches."""
    return [c.tokens for c in caption_paths(captioner, [r.path for r in records], beam_size, batch_size, progress)]


def caption_paths(
    captioner: Captioner, paths: Sequence[Path], beam_size: int = 3, batch_size: int = 32, progress: bool = False
) -> list[Caption]:
    """The :class:`Caption` of each photo, decoded from disk and captioned in batches."""
    from tqdm.auto import tqdm

    check_int("batch_size", batch_size)
    captions = []
    with tqdm(total=len(paths), desc="captioning", unit="photo", disable=not progress) as bar:
        for start in range(0, len(paths), batch_size):
            images = [load_rgb(p) for p in paths[start : start + batch_size]]
            captions += captioner.caption(images, beam_size=beam_size, batch_size=batch_size)
            bar.update(len(images))
    return captions


def score_naming(
    captioner: Captioner,
    folder: Path,
    beam_size: int = 3,
    batch_size: int = 32,
    limit: int | None = None,
    progress: bool = False,
) -> dict:
    """How often ``captioner`` names what photos of known ImageNet classes show
    (:mod:`~vision_attention.inference.naming`), with how often guidance asked and was met."""
    photos = class_photos(folder)
    if limit is not None:
        photos = photos[: check_int("--limit", limit)]
    captions = caption_paths(captioner, [p for p, _ in photos], beam_size, batch_size, progress)
    report = naming_scores([c.tokens for c in captions], [c for _, c in photos])
    guided = [c.guidance for c in captions if c.guidance is not None]
    report["guided"] = bool(guided)
    report["constrained"] = sum(1 for g in guided if g.constraints)
    report["constraints_met"] = sum(1 for g in guided for c in g.constraints if c.met)
    return report


def score_captions(
    hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[Sequence[str]]], official: bool = True
) -> dict[str, float | None]:
    """The metrics of captions against their references (token lists)."""
    metrics: dict[str, float | None] = dict(caption_metrics(hypotheses, references))
    metrics["distinct_captions"] = len({tuple(h) for h in hypotheses}) / max(len(hypotheses), 1)
    metrics["words_used"] = float(len({w for h in hypotheses for w in h}))
    if official:
        coco = coco_metrics(hypotheses, references)
        if coco is None:
            raise ValueError("official metrics need pycocoevalcap: pip install 'vision_attention[eval]'")
        metrics.update(coco)
        metrics.setdefault("coco_meteor", None)  # METEOR 1.5 runs on Java: None says it was not computed
    return metrics


def score_captioner(
    captioner: Captioner,
    records: Sequence[CaptionedImage],
    beam_size: int = 3,
    batch_size: int = 32,
    official: bool = True,
    progress: bool = False,
) -> dict[str, float | None]:
    """``captioner``'s metrics on ``records`` (e.g. one split of :func:`read_caption_records`),
    with how its attention points (:func:`attention_figures`)."""
    captions = caption_paths(captioner, [r.path for r in records], beam_size, batch_size, progress)
    metrics = score_captions([c.tokens for c in captions], [r.captions for r in records], official)
    metrics.update(attention_figures(captions))
    return metrics


def attention_figures(captions: Sequence[Caption], top: float = 0.2) -> dict[str, float]:
    """How much the attention of ``captions`` points: its normalised entropy over all words
    (1 is uniform), and the share of the attention inside the most attended ``top`` of the cells
    for object words (the words of the ImageNet map and the people: "dog", "ball", "man")
    against function words ("a", "in", "the"); uniform attention gives about ``top`` to both."""
    objects = {form for entry in read_map()["words"].values() for form in entry["forms"]} | PEOPLE_WORDS
    entropy, shares = [], {"objects": [], "function": []}
    for caption in captions:
        maps = caption.alphas.flatten(1)[: len(caption.tokens)]  # (T, L): the words, not <end>
        entropy.append(attention_entropy(maps))
        for word, share in zip(caption.tokens, attention_top_share(maps, top).tolist()):
            kind = "objects" if word in objects else "function" if word in FUNCTION_WORDS else None
            if kind:
                shares[kind].append(share)
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")
    return {
        "attention_entropy": float(torch.cat(entropy).mean()) if entropy else float("nan"),
        f"attention_top{round(top * 100)}_objects": mean(shares["objects"]),
        f"attention_top{round(top * 100)}_function": mean(shares["function"]),
    }
