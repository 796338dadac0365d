"""Loading a trained text model (classifier or translator) with its vocabulary."""

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
