"""Caption metrics: BLEU-1..4 (nltk), METEOR (nltk, when WordNet is found), CIDEr-D,
the official COCO suite when ``pycocoevalcap`` is installed, attention localisation
on the synthetic sets, and how spread the attention is (its entropy).

BLEU is corpus BLEU with all references of each image (Papineni et al. 2002).
CIDEr-D follows Vedantam et al. 2015 ("CIDEr: Consensus-based Image Description
Evaluation", https://arxiv.org/abs/1411.5726) as implemented by the COCO caption
evaluation code: TF-IDF n-gram vectors (n = 1..4) with document frequencies over
the evaluated references, candidate counts clipped by the reference's, a Gaussian
length penalty (sigma = 6), averaged over references and n, times 10.
"""

from __future__ import annotations

import math
import shutil
import warnings
from collections import Counter
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .layers.spatial import categorical_entropy

Tokens = Sequence[str]


def bleu(hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]]) -> dict[str, float]:
    """Corpus BLEU-1..4 in [0, 1]."""
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

    weights = [(1.0,), (0.5, 0.5), (1 / 3, 1 / 3, 1 / 3), (0.25, 0.25, 0.25, 0.25)]
    with warnings.catch_warnings():  # nltk warns on every corpus without some n-gram match
        warnings.simplefilter("ignore", UserWarning)
        scores = corpus_bleu(
            [list(map(list, refs)) for refs in references],
            [list(h) for h in hypotheses],
            weights=weights,
            smoothing_function=SmoothingFunction().method0,
        )
    return {f"bleu{n}": float(s) for n, s in enumerate(scores, start=1)}


def wordnet_available() -> bool:
    """Whether nltk finds WordNet (e.g. through NLTK_DATA), which METEOR needs."""
    try:
        from nltk.corpus import wordnet

        wordnet.ensure_loaded()
        wordnet.synsets("dog")  # opens the data files, which newer nltk may refuse (PermissionError)
        return True
    except (LookupError, OSError):
        return False


def meteor(hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]]) -> float | None:
    """Mean nltk METEOR, or None when WordNet is absent (never reported as 0)."""
    if not wordnet_available():
        return None
    from nltk.translate.meteor_score import meteor_score

    try:
        scores = [meteor_score([list(r) for r in refs], list(h)) for h, refs in zip(hypotheses, references)]
    except (LookupError, OSError):  # WordNet found but its files cannot be opened: absent, not a crash
        return None
    return sum(scores) / max(len(scores), 1)


def _ngrams(words: Tokens, n: int = 4) -> Counter:
    return Counter(tuple(words[i : i + k]) for k in range(1, n + 1) for i in range(len(words) - k + 1))


class CiderD:
    """CIDEr-D against a reference corpus, as the COCO caption code computes it: n-gram
    (n = 1..4) TF-IDF vectors whose document frequencies come from the corpus (one document
    per image: the union of its references' n-grams), candidate weights clipped by the
    reference's, a Gaussian penalty (sigma 6) on the difference of the two captions' bigram
    counts (the official code's length), the mean over n and over references, times 10.

    Built on the evaluated references it gives pycocoevalcap's scores; built once on the
    training references it is the reward of self-critical training (Rennie et al. 2017),
    each image's reference vectors kept for the steps that score it again.

    Args:
        corpus: the references of every image, token lists.
        n: longest n-gram.
        sigma: the length penalty's width.
    """

    def __init__(self, corpus: Sequence[Sequence[Tokens]], n: int = 4, sigma: float = 6.0) -> None:
        self.n, self.sigma = n, sigma
        self.document_frequency: Counter = Counter()
        for refs in corpus:
            self.document_frequency.update(set().union(*(_ngrams(r, n).keys() for r in refs)))
        self.log_documents = math.log(float(max(len(corpus), 1)))
        self._references: dict[tuple, list] = {}

    def vector(self, words: Tokens) -> tuple[list[dict], list[float], int]:
        vec, norm, length = [{} for _ in range(self.n)], [0.0] * self.n, 0
        for gram, tf in _ngrams(words, self.n).items():
            k = len(gram) - 1
            vec[k][gram] = tf * (self.log_documents - math.log(max(1.0, self.document_frequency[gram])))
            norm[k] += vec[k][gram] ** 2
            length += tf if k == 1 else 0
        return vec, [math.sqrt(x) for x in norm], length

    def _similarity(self, hyp, ref) -> float:
        (vh, nh, lh), (vr, nr, lr) = hyp, ref
        penalty = math.exp(-((lh - lr) ** 2) / (2 * self.sigma**2))
        total = 0.0
        for k in range(self.n):
            value = sum(min(w, vr[k].get(g, 0.0)) * vr[k].get(g, 0.0) for g, w in vh[k].items())
            if nh[k] != 0 and nr[k] != 0:
                value /= nh[k] * nr[k]
            total += value * penalty
        return total / self.n

    def score(self, hypothesis: Tokens, references: Sequence[Tokens]) -> float:
        """CIDEr-D of one caption against its image's references."""
        key = tuple(tuple(r) for r in references)
        if key not in self._references:
            self._references[key] = [self.vector(r) for r in references]
        refs = self._references[key]
        hyp = self.vector(hypothesis)
        return 10.0 * sum(self._similarity(hyp, r) for r in refs) / len(refs)

    def scores(self, hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]]) -> list[float]:
        return [self.score(h, refs) for h, refs in zip(hypotheses, references)]


def cider_d(
    hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]], n: int = 4, sigma: float = 6.0
) -> float:
    """Corpus CIDEr-D (the mean of the per-image scores, document frequencies over the
    evaluated references)."""
    if not hypotheses:
        return 0.0
    scores = CiderD(references, n, sigma).scores(hypotheses, references)
    return sum(scores) / len(scores)


def coco_metrics(hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]]) -> dict[str, float] | None:
    """BLEU, METEOR 1.5, ROUGE-L and CIDEr-D from the official COCO code (``pycocoevalcap``,
    Java for METEOR: without it, a warning says METEOR was not computed), on already
    tokenised text; None when it is not installed."""
    try:
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.rouge.rouge import Rouge
    except ImportError:
        return None
    gts = {i: [" ".join(r) for r in refs] for i, refs in enumerate(references)}
    res = {i: [" ".join(h)] for i, h in enumerate(hypotheses)}
    out = {}
    bleus, _ = Bleu(4).compute_score(gts, res, verbose=0)
    out.update({f"coco_bleu{n}": float(s) for n, s in enumerate(bleus, start=1)})
    out["coco_rouge_l"], _ = Rouge().compute_score(gts, res)
    out["coco_cider_d"], _ = Cider().compute_score(gts, res)
    if shutil.which("java") is None:  # pycocoevalcap's METEOR 1.5 is a Java program
        warnings.warn(
            "METEOR 1.5 needs Java, which was not found: coco_meteor was not computed", RuntimeWarning, stacklevel=2
        )
        return {k: float(v) for k, v in out.items()}
    from pycocoevalcap.meteor.meteor import Meteor

    out["coco_meteor"], _ = Meteor().compute_score(gts, res)
    return {k: float(v) for k, v in out.items()}


def caption_metrics(hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]]) -> dict[str, float]:
    """BLEU-1..4, CIDEr-D and, when available, METEOR."""
    out = bleu(hypotheses, references)
    out["cider_d"] = cider_d(hypotheses, references)
    score = meteor(hypotheses, references)
    if score is not None:
        out["meteor"] = score
    return out


def attention_entropy(alphas: Tensor) -> Tensor:
    """Entropy of each attention distribution over its L locations divided by log L:
    1 for uniform attention (the decoder reads the mean context, as without attention),
    0 for one location. On real photos it tells attention that looks from attention
    that never learned to.

    Args:
        alphas: (..., L) attention weights summing to 1 over the last dimension.

    Returns:
        (...) the normalised entropies.
    """
    return categorical_entropy(alphas.float()) / math.log(alphas.shape[-1])


# Words that name nothing in a photo: what a caption's attention has no object to find for.
FUNCTION_WORDS = frozenset(
    "a an the in on of with and is are at to his her its their while by for from into near "
    "through down up over as it one two three some another other".split()
)
# The people of Flickr8k's captions: objects a caption's attention should find, as "dog" is.
PEOPLE_WORDS = frozenset(
    "man men woman women boy boys girl girls child children kid kids people person baby lady guy player players".split()
)


def attention_top_share(alphas: Tensor, top: float = 0.2) -> Tensor:
    """The share of each attention map held by its ``top`` most attended locations: ``top``
    (about) for uniform attention, 1 when it all falls on so few. A real-photo measure of how
    much attention points, with no boxes needed.

    Args:
        alphas: (..., L) attention weights summing to 1 over the last dimension.
        top: the share of locations counted.

    Returns:
        (...) the shares.
    """
    count = max(1, round(top * alphas.shape[-1]))
    return alphas.float().topk(count, dim=-1).values.sum(-1)


def attention_peaks(alphas: Tensor, image_size: tuple[int, int]) -> Tensor:
    """Pixel (x, y) of the peak of each attention map upsampled bilinearly to the image.

    Args:
        alphas: (T, h, w) attention maps.
        image_size: (height, width) of the image.

    Returns:
        (T, 2) long, x and y.
    """
    height, width = image_size
    up = F.interpolate(
        alphas.unsqueeze(1).float(), size=(height, width), mode="bilinear", align_corners=False
    )  # (T, 1, H, W)
    flat = up.flatten(1).argmax(1)  # (T,)
    return torch.stack([flat % width, flat // width], dim=1)


def localisation(
    caption: Tokens, alphas: Tensor, scene, image_size: tuple[int, int], nouns_only: bool = True
) -> tuple[int, int]:
    """(hits, object words) of one caption: words naming an object whose attention peak
    falls inside that object's box. Only captions true of the scene are grounded.
    The words counted are the nouns that name objects ("circle", the digit "3"), or with
    ``nouns_only=False`` every word of an object's phrase ("small", "red", "circle").

    Args:
        caption: the generated words.
        alphas: (T, h, w) the attention when each word was generated (T >= len(caption)).
        scene: the image's ground truth: ``scene.ground(words)`` gives each word's object
            index (or None), ``scene.NOUNS`` the naming words, and ``scene.objects`` /
            ``scene.digits`` have a ``box``.
        image_size: (height, width) of the image.
        nouns_only: count only the naming nouns.
    """
    owners = scene.ground(list(caption))
    if owners is None:  # a false caption names no object for sure: no word counts
        return 0, 0
    objects = getattr(scene, "objects", None) or scene.digits
    peaks = attention_peaks(alphas[: len(caption)], image_size)
    hits = total = 0
    for word, owner, (x, y) in zip(caption, owners, peaks.tolist()):
        if owner is None or (nouns_only and word not in scene.NOUNS):
            continue
        x0, y0, x1, y1 = objects[owner].box
        total += 1
        hits += int(x0 <= x < x1 and y0 <= y < y1)
    return hits, total
