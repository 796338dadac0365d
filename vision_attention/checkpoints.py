"""Reading and writing checkpoints safely.

* Reading: ``torch.load(weights_only=True)``, so a crafted pickle cannot run code.
* Writing: to a temporary file in the same folder, flushed and renamed into place,
  so a run killed at any moment leaves either the old file or the new one.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

KEY = "vision_attention"


class CheckpointError(ValueError):
    """A checkpoint that is missing, unsafe, or not of the expected kind."""


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu", kinds: tuple[str, ...] = (), what: str = ""
) -> tuple[dict, dict]:
    """(the checkpoint, its ``vision_attention`` entry) of a Lightning checkpoint file.
    With ``kinds``, a checkpoint of another kind is refused as not being ``what``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(f"{path}: refused to load: it holds objects that are not plain tensors and data ({err})") from err
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(f"{path}: not a readable checkpoint ({err})") from err
    if not isinstance(checkpoint, dict) or KEY not in checkpoint:
        raise CheckpointError(f"{path}: not a vision_attention checkpoint")
    info = checkpoint[KEY]
    if kinds and info.get("kind") not in kinds:
        raise CheckpointError(f"{path}: a {info.get('kind', 'unknown')} checkpoint, not {what}")
    return checkpoint, info


def model_weights(checkpoint: dict, prefix: str = "model.") -> dict:
    """The state dict of the LightningModule's ``model`` attribute, without its prefix."""
    return {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}


def atomic_save(obj: object, path: str | Path) -> None:
    """torch.save to a temporary file, fsync, then rename over ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
