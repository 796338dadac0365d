"""What the classifier and the translator share: loading a trained text model of their kind
with its vocabulary."""

from __future__ import annotations

from pathlib import Path

import torch

from ..checkpoints import CheckpointError, load_checkpoint, model_weights
from ..models import build_text_model
from ..vocab import Vocabulary

USE = {"classifier": "Classifier", "translator": "Translator"}


def load_text_model(path: str | Path, kind: str, map_location: str | torch.device) -> tuple[torch.nn.Module, Vocabulary]:
    """The ``kind`` ("classifier" or "translator") model of a checkpoint and its vocabulary;
    a checkpoint of the other kind is refused with one line naming the class that reads it."""
    checkpoint, info = load_checkpoint(path, map_location, tuple(USE), "a text model")
    if info["kind"] != kind:
        raise CheckpointError(f"{path}: a {info['kind']} checkpoint; load it with {USE[info['kind']]}.from_checkpoint")
    if not info.get("vocab"):
        raise CheckpointError(f"{path}: the checkpoint has no vocabulary")
    model = build_text_model(info["model_class"], info["model_config"])
    model.load_state_dict(model_weights(checkpoint))
    return model, Vocabulary.from_dict(info["vocab"])


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
    def from_checkpoint(cls, path: str | Path, map_location: str | torch.device = "cpu"):
        return cls(*load_text_model(path, cls.kind, map_location), map_location)
