"""Reading and writing checkpoints safely.

* Reading: ``torch.load(weights_only=True)``, so a crafted pickle cannot run code.
* Writing: to a temporary file in the same folder, flushed and renamed into place,
  so a run killed at any moment leaves either the old file or the new one.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import torch

KEY = "vision_attention"


class CheckpointError(ValueError):
    """A checkpoint that is missing, unsafe, or not of the expected kind."""


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """``torch.load(weights_only=True)`` of ``path``; any failure is one CheckpointError line
    saying what the file is (missing, empty, damaged, not a checkpoint, or unsafe)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # whatever the bytes were, the file is not a loadable checkpoint
        raise CheckpointError(f"{path}: {_why_unreadable(path, err)}") from err


def _why_unreadable(path: Path, err: Exception) -> str:
    with open(path, "rb") as f:
        head = f.read(4)
    unsafe = re.search(r"[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)", str(err))
    if unsafe:
        return f"refused to load: it would call {unsafe.group(1)} (checkpoints may hold only tensors and plain data)"
    if head.startswith(b"PK") and "Weights only load failed" in str(err):
        return "refused to load: it holds objects other than tensors and plain data"
    if not head:
        return "empty file, not a checkpoint"
    if head.startswith(b"PK"):
        return "damaged checkpoint: the torch.save archive is truncated or corrupted"
    if head[0] == 0x80:
        return "refused to load: a pickle that is not a torch.save checkpoint of tensors and plain data"
    return "not a checkpoint (neither a torch.save archive nor a pickle)"


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu", kinds: tuple[str, ...] = (), what: str = ""
) -> tuple[dict, dict]:
    """(the checkpoint, its ``vision_attention`` entry) of a Lightning checkpoint file.
    With ``kinds``, a checkpoint of another kind is refused as not being ``what``."""
    path = Path(path)
    checkpoint = read_checkpoint(path, map_location)
    if not isinstance(checkpoint, dict) or KEY not in checkpoint:
        raise CheckpointError(f"{path}: not a vision_attention checkpoint")
    info = checkpoint[KEY]
    if kinds and info.get("kind") not in kinds:
        raise CheckpointError(f"{path}: a {info.get('kind', 'unknown')} checkpoint, not {what}")
    return checkpoint, info


def find_run_checkpoint(which: str, root: str | Path) -> Path | None:
    """``--ckpt_path last``: the newest ``last*.ckpt`` under ``root`` (any run version);
    ``best``: the best checkpoint that the newest such file records and that still exists."""
    lasts = sorted(Path(root).rglob("last*.ckpt"), key=lambda p: p.stat().st_mtime, reverse=True)
    if which == "last":
        return lasts[0] if lasts else None
    for last in lasts:
        states = read_checkpoint(last).get("callbacks", {})
        best = [s.get("best_model_path") for k, s in states.items() if k.startswith("ModelCheckpoint")]
        found = [Path(b) for b in best if b and Path(b).is_file()]
        if found:
            return found[0]
    return None


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
