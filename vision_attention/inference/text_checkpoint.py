"""What the classifier and the translator share: loading and saving a trained text model of
their kind with its vocabulary."""

from __future__ import annotations

from pathlib import Path

import torch

from ..files.checkpoints import CheckpointError
from ..kinds import KINDS, Kind
from ..vocab import Vocabulary
from .loading import build, load_trained, save_trained

USE = (Kind.CLASSIFIER, Kind.TRANSLATOR)


def load_text_model(
    path: str | Path, kind: str, map_location: str | torch.device
) -> tuple[torch.nn.Module, Vocabulary]:
    """The ``kind`` ("classifier" or "translator") model of a checkpoint or model folder and
    its vocabulary; one of the other kind is refused with one line naming the class that reads it."""
    trained = load_trained(path, USE, "a text model", map_location)
    if trained.kind != kind:
        reader = KINDS[Kind(trained.kind)].inference
        raise CheckpointError(f"{path}: a {trained.kind} model; load it with {reader}.from_pretrained")
    if trained.vocab is None:
        raise CheckpointError(f"{path}: the model has no vocabulary")
    return build(trained, map_location), trained.vocab


class TextInference:
    """A trained text model of ``kind`` with its vocabulary.

    Args:
        model: the network.
        vocab: its vocabulary.
        device: where to run.
    """

    kind = ""

    def __init__(self, model: torch.nn.Module, vocab: Vocabulary, device: str | torch.device = "cpu") -> None:
        self.model, self.vocab, self.device = model.eval().to(device), vocab, torch.device(device)

    @classmethod
    def from_pretrained(cls, model: str | Path, map_location: str | torch.device = "cpu"):
        """A model folder, a checkpoint file or a Hub id."""
        return cls(*load_text_model(model, cls.kind, map_location), map_location)

    @classmethod
    def from_checkpoint(cls, path: str | Path, map_location: str | torch.device = "cpu"):
        return cls.from_pretrained(path, map_location)

    def save_pretrained(
        self,
        folder: str | Path,
        dtype: str = "float32",
        card: str | None = None,
        meta: dict | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Write a model folder that :meth:`from_pretrained` reads back."""
        preprocessing = {"tokenizer": "vision_attention.vocab.tokenize"}
        return save_trained(folder, self.kind, self.model, self.vocab, preprocessing, meta, dtype, card, overwrite)
