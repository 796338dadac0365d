"""Captioning: ``Captioner.from_pretrained("sat-soft-flickr8k").caption("photo.jpg")``.

``from_pretrained`` takes a shipped model's name, a model folder written by
``save_pretrained`` (``model.safetensors`` + ``config.json``), a Lightning checkpoint of
:class:`~vision_attention.lit.CaptioningModule`, or a Hub id when a network is there. Each
carries the model's configuration, its weights, the vocabulary and the image size, so
nothing else is needed; checkpoints are read with ``torch.load(weights_only=True)`` and
folders hold only tensors, so a file from an untrusted source cannot run code.

Legend: B images, T words, h x w attention grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..data.image_decoding import ImageTransform
from ..files.checkpoints import CheckpointError
from ..kinds import Kind, default_model
from ..models.constrained_decoding import constrained_beam_search
from ..models.decoding import beam_search
from ..models.ensemble import Ensemble
from ..models.show_attend_tell import ShowAttendTell
from ..resources import check_int, check_number, require_memory
from ..vocab import Vocabulary
from .guidance import Guidance, Guide, GuideSettings, WordMap, read_map
from .loading import build, load_trained, save_trained

DEFAULT = default_model(Kind.CAPTIONER)  # what from_pretrained loads when given no model

ImageLike = str | Path | Image.Image | np.ndarray | torch.Tensor


@dataclass
class Caption:
    text: str
    tokens: list[str]
    score: float  # log-probability of the caption (length-normalised if asked)
    alphas: torch.Tensor  # (T + 1, h, w): attention for each word and for <end>
    guidance: Guidance | None = None  # the constraint words, their evidence, the bans (guided captioning)


class Captioner:
    """A Show, Attend and Tell model ready to caption images.

    Args:
        model: the trained captioner (with its encoder).
        vocab: its vocabulary.
        image_size: side images are resized to, as in training.
        device: where to run.
        name: what it was loaded from (a shipped name, a folder, a checkpoint), for reports.
        meta: its measured figures and their provenance, when it came with them.
        guide: guided captioning (:mod:`~vision_attention.inference.guidance`): True guides where
            the backbone has a packaged ImageNet classifier (EfficientNet-Lite), False never, or
            the thresholds to guide with (then a backbone without one is refused).
    """

    def __init__(
        self,
        model: ShowAttendTell,
        vocab: Vocabulary,
        image_size: int,
        device: str | torch.device = "cpu",
        name: str = "",
        meta: dict | None = None,
        guide: bool | GuideSettings = True,
    ) -> None:
        if model.encoder is None:
            raise ValueError("this captioner has no image encoder")
        self.model, self.vocab, self.image_size = model.eval().to(device), vocab, image_size
        self.model.encoder.to(memory_format=torch.channels_last)  # as the feature caches run it: 2.5x faster on CPU
        self.device, self.name, self.meta = torch.device(device), name, meta or {}
        self.transform = ImageTransform(image_size)
        self.guide, self.head = self._guide(guide)

    def _guide(self, guide: bool | GuideSettings) -> tuple[Guide | None, torch.nn.Module | None]:
        """(the guide, the backbone's ImageNet classifier), or (None, None) unguided."""
        if guide is False:
            return None, None
        imagenet_head = getattr(self.model.encoder, "imagenet_head", None)
        try:
            if imagenet_head is None:
                raise ValueError("its encoder has no packaged ImageNet classifier")
            head = imagenet_head().to(self.device, memory_format=torch.channels_last)
        except (ValueError, FileNotFoundError) as err:
            if guide is True:  # where the backbone allows it
                return None, None
            raise ValueError(f"{self.name or 'this captioner'}: cannot be guided ({err})") from err
        settings = guide if isinstance(guide, GuideSettings) else GuideSettings()
        return Guide(WordMap(read_map(), self.vocab), settings), head

    @classmethod
    def from_pretrained(
        cls,
        model: str | Path = DEFAULT,
        map_location: str | torch.device = "cpu",
        guide: bool | GuideSettings = True,
    ) -> Captioner:
        """A shipped captioner by name, a model folder, a checkpoint file or a Hub id;
        ``guide`` as the constructor takes it."""
        trained = load_trained(model, (Kind.CAPTIONER,), "a captioner", map_location)
        if trained.vocab is None:
            raise CheckpointError(f"{trained.source}: a captioner without its vocabulary")
        image_size = int(trained.preprocessing.get("image_size") or 224)
        model = build(trained, map_location)
        return cls(model, trained.vocab, image_size, map_location, trained.source, trained.meta, guide)

    @classmethod
    def from_checkpoint(cls, path: str | Path, map_location: str | torch.device = "cpu") -> Captioner:
        """Load a captioner from a Lightning checkpoint of :class:`CaptioningModule` (or any
        source :meth:`from_pretrained` takes)."""
        return cls.from_pretrained(path, map_location)

    def save_pretrained(
        self,
        folder: str | Path,
        dtype: str = "float32",
        card: str | None = None,
        meta: dict | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Write a model folder (``model.safetensors`` + ``config.json`` [+ the model ``card``]),
        floating weights as ``dtype``, that :meth:`from_pretrained` reads back."""
        encoder = self.model.encoder
        preprocessing = {
            "image_size": self.image_size,
            "resize": "bilinear, to image_size x image_size (aspect ratio not kept)",
            "range": [0, 1],
        }
        if getattr(encoder, "mean", None) is not None:  # applied inside the encoder
            preprocessing["encoder_normalises"] = {
                "mean": encoder.mean.flatten().tolist(),
                "std": encoder.std.flatten().tolist(),
            }
        return save_trained(
            folder,
            Kind.CAPTIONER,
            self.model,
            self.vocab,
            preprocessing,
            meta if meta is not None else self.meta,
            dtype,
            card,
            overwrite,
        )

    def to_tensor(self, image: ImageLike) -> torch.Tensor:
        """A path, PIL image, (C, H, W) tensor or (H, W[, C]) array as the model's input
        (3, S, S): the preprocessing of training (:class:`~vision_attention.data.image_decoding.ImageTransform`)."""
        return self.transform(image)

    @property
    def decoder(self):
        """What beam search runs: the model (an ensemble's, its members together)."""
        return self.model

    def encode(
        self, images: Sequence[ImageLike], max_len: int = 30, classify: bool = False
    ) -> tuple[torch.Tensor, int, int, torch.Tensor | None]:
        """(what the decoder reads for these images, attention locations L, bytes per beam of
        one image up to ``max_len`` words, and with ``classify`` the ImageNet class
        probabilities (B, 1000) of the backbone's own classifier, else None)."""
        batch = torch.stack([self.to_tensor(im) for im in images]).to(self.device, memory_format=torch.channels_last)
        probs = None
        if classify and self.head is not None:
            features, trunk = self.model.encoder.with_trunk(batch)  # (B, L, D), the trunk's map run once
            probs = torch.softmax(self.head(trunk).float(), dim=-1)  # (B, 1000)
        else:
            features = self.model.encode(batch)  # (B, L, D)
        return features, features.shape[1], beam_bytes(self.model.config, features.shape[1], max_len), probs

    @torch.no_grad()
    def caption(
        self,
        images: ImageLike | Sequence[ImageLike],
        beam_size: int = 3,
        max_len: int = 30,
        length_penalty: float = 0.0,
        batch_size: int = 32,
        guide: bool = True,
    ) -> list[Caption]:
        """Caption images (paths, PIL images or tensors), one :class:`Caption` each; guided by
        what the backbone's classifier sees unless ``guide`` is False or the captioner was built
        without a guide. A beam too large for the memory free on the device is refused before
        the search."""
        for name, value in (("beam_size", beam_size), ("max_len", max_len), ("batch_size", batch_size)):
            check_int(name, value)
        check_number("length_penalty", length_penalty)
        single = (
            isinstance(images, (str, Path, Image.Image))
            or (isinstance(images, np.ndarray) and images.ndim in (2, 3))
            or (isinstance(images, torch.Tensor) and images.ndim == 3)
        )
        if single:  # one image; a list, or a 4-D batch, holds several
            images = [images]
        guided = guide and self.guide is not None
        results = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            encoded, locations, per_beam, probs = self.encode(chunk, max_len, classify=guided)
            plans = None
            if guided:
                constraints, banned, plans = self.guide.plan(probs, len(self.vocab))
                states = 1 if constraints is None else 2 ** constraints.shape[1]
                require_memory(
                    per_beam * len(chunk) * states,
                    beam_size,
                    self.device,
                    f"guided beam_size {beam_size} over {len(chunk)} image(s)",
                )
                decoded = constrained_beam_search(
                    self.decoder, encoded, constraints, banned, beam_size, length_penalty, max_len=max_len
                )
            else:
                require_memory(
                    per_beam * len(chunk), beam_size, self.device, f"beam_size {beam_size} over {len(chunk)} image(s)"
                )
                decoded = beam_search(self.decoder, encoded, beam_size, length_penalty, max_len=max_len)
            side = round(locations**0.5)
            for i in range(len(chunk)):
                words = self.vocab.decode(decoded.tokens[i].tolist())
                steps = int(decoded.lengths[i])
                alphas = decoded.alphas[i, :steps].reshape(steps, side, -1).cpu()  # (T + 1, h, w)
                guidance = None
                if plans is not None:
                    guidance = plans[i]
                    for c, constraint in enumerate(guidance.constraints):
                        constraint.met = bool(decoded.met[i, c])
                    if not bool(decoded.complete[i]):
                        guidance.gave_up = f"no caption of at most {max_len} words the beams kept names it"
                results.append(Caption(" ".join(words), words, float(decoded.score[i]), alphas, guidance))
        return results


class CaptionerEnsemble(Captioner):
    """Captioners that share a vocabulary, captioning together: each reads the photos with its
    own preprocessing and encoder, and beam search runs on the mean of their log-probabilities
    (:class:`~vision_attention.models.ensemble.Ensemble`). The attention shown is the first's.

    Args:
        members: the captioners.
    """

    def __init__(self, members: Sequence[Captioner]) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one captioner")
        for other in members[1:]:
            if other.vocab != members[0].vocab:
                raise ValueError(
                    f"{other.name} and {members[0].name} have different vocabularies: they cannot be ensembled"
                )
        first = members[0]
        self.members, self.model, self.vocab, self.image_size = (
            list(members),
            first.model,
            first.vocab,
            first.image_size,
        )
        self.device, self.name, self.meta, self.transform = (
            first.device,
            " + ".join(m.name for m in members),
            {},
            first.transform,
        )
        self._decoder = Ensemble([m.model for m in members])
        guided = [m for m in members if m.guide is not None]
        self.guide = guided[0].guide if guided else None  # the members' classifiers, averaged
        self.head = guided[0].head if guided else None

    @classmethod
    def from_pretrained(
        cls, models: Sequence[str | Path], map_location: str | torch.device = "cpu", guide: bool | GuideSettings = True
    ) -> CaptionerEnsemble:
        return cls([Captioner.from_pretrained(m, map_location, guide) for m in models])

    @property
    def decoder(self):
        return self._decoder

    def encode(
        self, images: Sequence[ImageLike], max_len: int = 30, classify: bool = False
    ) -> tuple[list[torch.Tensor], int, int, torch.Tensor | None]:
        parts = [m.encode(images, max_len, classify) for m in self.members]
        probs = [p[3] for p in parts if p[3] is not None]
        mean = torch.stack(probs).mean(0) if probs else None  # (B, 1000) the members' classifiers together
        return [p[0] for p in parts], parts[0][1], sum(p[2] for p in parts), mean

    def save_pretrained(self, *args, **kwargs):
        raise ValueError("an ensemble is saved as its members: save each captioner")


def beam_bytes(config: dict, locations: int, max_len: int) -> int:
    """About the float32 bytes one beam of one image holds at the peak of a search step: the
    additive attention's (L, A) scores and (L, D) weighted features, the step's scores over
    the vocabulary (a few copies), the attention history and the LSTM state."""
    per_step = locations * (config["attn_dim"] + config["feature_dim"]) + 6 * config["vocab_size"]
    return 4 * (per_step + 2 * max_len * locations + 8 * config["hidden_dim"])
