"""A trained model as a folder in the Hugging Face layout: ``model.safetensors`` (tensors
only, no pickle), ``config.json`` (what rebuilds the model: its kind, class and constructor
arguments, the vocabulary, the preprocessing, the figures) and an optional model card
``README.md``.

``config.json`` records the sha256 of the weights file, so a damaged or swapped file is
refused with one line naming it rather than loaded. A folder is written into a temporary
sibling and renamed into place: a killed export leaves no half-written folder, and an
existing one is replaced only when asked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import torch

from .checkpoints import CheckpointError

CONFIG, WEIGHTS, CARD = "config.json", "model.safetensors", "README.md"
FORMAT = "vision_attention/1"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class FolderError(CheckpointError):
    """A model folder that is missing, damaged or not of the expected kind; names the file."""


def write_folder(
    folder: str | Path,
    config: dict,
    state: dict[str, torch.Tensor],
    dtype: str = "float32",
    card: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``config`` (JSON-able; the weights entry is added here), the ``state`` tensors
    (floating ones stored as ``dtype``) and the model ``card``. An existing non-empty folder
    is refused unless ``overwrite``."""
    from safetensors.torch import save

    folder = Path(folder)
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder}: exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder}: the folder exists and is not empty (pass overwrite to replace it)")
    stored = {
        name: (t.to(DTYPES[dtype]) if t.is_floating_point() else t).detach().cpu().contiguous().clone()
        for name, t in state.items()
    }
    data = save(stored, metadata={"format": "pt"})
    config = {
        "format": FORMAT,
        **config,
        "weights": {
            **config.get("weights", {}),
            "file": WEIGHTS,
            "dtype": dtype,
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    }
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        (tmp / WEIGHTS).write_bytes(data)
        (tmp / CONFIG).write_text(json.dumps(config, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        if card is not None:
            (tmp / CARD).write_text(card, encoding="utf-8")
        for path in tmp.iterdir():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        _replace_folder(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _replace_folder(new: Path, folder: Path) -> None:
    """Rename ``new`` to ``folder``; an old folder is moved aside first and removed after."""
    if not folder.exists():
        os.replace(new, folder)
        return
    old = folder.with_name(f".{folder.name}.old{os.getpid()}")
    os.replace(folder, old)
    try:
        os.replace(new, folder)
    except OSError:
        os.replace(old, folder)  # put the old one back
        raise
    shutil.rmtree(old, ignore_errors=True)


def is_model_folder(path: str | Path) -> bool:
    return (Path(path) / CONFIG).is_file()


def read_config(folder: str | Path) -> dict:
    """``config.json`` of a model folder, checked to be one of ours."""
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise FolderError(f"{path}: missing (a model folder holds {CONFIG} and {WEIGHTS})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FolderError(f"{path}: damaged, not JSON ({err})") from err
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise FolderError(f"{path}: not a vision_attention model config (format {found!r}, expected {FORMAT!r})")
    for key in ("kind", "model_class", "model_config", "weights"):
        if key not in config:
            raise FolderError(f"{path}: no {key!r} entry")
    return config


def read_folder(folder: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(config, tensors) of a model folder; the weights file's sha256 is checked against the
    config's before it is parsed, and floating tensors come back as float32."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    folder = Path(folder)
    config = read_config(folder)
    path = folder / config["weights"].get("file", WEIGHTS)
    if not path.is_file():
        raise FolderError(f"{path}: missing")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != config["weights"].get("sha256"):
        recorded = str(config["weights"].get("sha256"))[:12]
        raise FolderError(
            f"{path}: damaged or replaced (sha256 {digest[:12]}... is not the {recorded}... that {CONFIG} records)"
        )
    try:
        state = load(data)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise FolderError(f"{path}: not a safetensors file ({err})") from err
    return config, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
