"""A trained model as a folder in the Hugging Face layout: ``model.safetensors`` (tensors
only, no pickle), ``config.json`` (what rebuilds the model: its kind, class and constructor
arguments, the vocabulary, the preprocessing, the figures) and an optional model card
``README.md``.

What reading a folder promises: it reads only the folder's own two files (no path in
``config.json`` reaches outside it, no symlink leaves it), checks the config's shape and the
weights file's sha256 and declared sizes before parsing it, and never unpickles anything;
whatever is wrong is one line naming the file and the setting. ``config.json`` records the
sha256 of the weights file, so a damaged or swapped file is refused rather than loaded.

What writing one promises: a folder is written into a temporary sibling and renamed into
place, so a killed export leaves no half-written folder; an existing folder is replaced only
when asked, only when it holds nothing but a model folder's files (a checkpoint or anything
else in it is never deleted), and never inside the package's shipped models.
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
    check_folder_output(folder, overwrite)
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


def check_folder_output(folder: Path, overwrite: bool = False) -> None:
    """Refuse to write a model folder at ``folder`` unless it is new or empty, or, with
    ``overwrite``, a model folder holding only a model folder's files; never a shipped one."""
    from .outputs import refuse_shipped

    folder = Path(folder)
    refuse_shipped(folder, "the model folder")
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder}: exists and is not a folder")
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    if not overwrite:
        raise FileExistsError(f"{folder}: the folder exists and is not empty (pass overwrite to replace it)")
    others = sorted(p.name for p in folder.iterdir() if p.name not in (CONFIG, WEIGHTS, CARD) or not p.is_file())
    if others:
        more = f" and {len(others) - 1} more" if len(others) > 1 else ""
        raise FileExistsError(
            f"{folder}: holds {others[0]}{more}, not only a model folder's files: it is not replaced "
            f"(export into a new or empty folder)"
        )


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


CONFIG_LIMIT = 64 * 2**20  # a config.json is a few hundred KB (the vocabulary); more is not one
# config.json's entries and the JSON types they must have
ENTRIES = {
    "kind": (str,),
    "model_class": (str,),
    "model_config": (dict,),
    "weights": (dict,),
    "vocab": (dict, type(None)),
    "preprocessing": (dict,),
    "meta": (dict,),
}


def _inside(folder: Path, name: object, setting: str) -> Path:
    """``folder / name`` when ``name`` is a plain file name whose file stays inside ``folder``
    (no ``..``, no absolute path, no symlink out), else one line naming the setting."""
    where = f"{folder / CONFIG}: {setting}"
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
        raise FolderError(f"{where} must name a file inside the folder, got {name!r}")
    path = folder / name
    if path.exists() and path.resolve().parent != folder.resolve():
        raise FolderError(f"{where} {name!r} is a link to a file outside the folder")
    return path


def read_config(folder: str | Path) -> dict:
    """``config.json`` of a model folder, checked to be one of ours and of the right shape."""
    folder = Path(folder)
    path = _inside(folder, CONFIG, "the config") if (folder / CONFIG).exists() else folder / CONFIG
    if not path.is_file():
        raise FolderError(f"{path}: missing (a model folder holds {CONFIG} and {WEIGHTS})")
    if path.stat().st_size > CONFIG_LIMIT:
        raise FolderError(f"{path}: {path.stat().st_size / 2**20:.0f} MB, too large for a model config")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FolderError(f"{path}: damaged, not JSON ({err})") from err
    except RecursionError as err:
        raise FolderError(f"{path}: nested too deep to be a model config") from err
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise FolderError(f"{path}: not a vision_attention model config (format {found!r}, expected {FORMAT!r})")
    for key in ("kind", "model_class", "model_config", "weights"):
        if key not in config:
            raise FolderError(f"{path}: no {key!r} entry")
    for key, types in ENTRIES.items():
        if key in config and not isinstance(config[key], types):
            expected = " or ".join(
                "null" if t is type(None) else {dict: "an object", str: "a string"}[t] for t in types
            )
            raise FolderError(f"{path}: {key!r} must be {expected}, got {type(config[key]).__name__}")
    weights = config["weights"]
    if "file" in weights and not isinstance(weights["file"], str):
        raise FolderError(f"{path}: 'weights.file' must be a file name, got {weights['file']!r}")
    if not isinstance(weights.get("sha256", ""), str):
        raise FolderError(f"{path}: 'weights.sha256' must be a string")
    return config


def read_folder(folder: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(config, tensors) of a model folder; the weights file's sha256 is checked against the
    config's before it is parsed, and floating tensors come back as float32."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    folder = Path(folder)
    config = read_config(folder)
    path = _inside(folder, config["weights"].get("file", WEIGHTS), "'weights.file'")
    if not path.is_file():
        raise FolderError(f"{path}: missing")
    check_safetensors_size(path)
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


def check_safetensors_size(path: Path) -> None:
    """Before reading ``path`` whole: its header's tensors must end where the file ends, and the
    file must fit in the memory free (a sparse or padded file is refused, not read)."""
    from ..resources import free_bytes

    size = path.stat().st_size
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 0 < length <= min(size - 8, 100 * 2**20):
                raise FolderError(f"{path}: not a safetensors file (its header length {length} does not fit the file)")
            header = json.loads(f.read(length))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise FolderError(f"{path}: not a safetensors file (its header is not JSON)") from err
    if not isinstance(header, dict):
        raise FolderError(f"{path}: not a safetensors file (its header is not a table of tensors)")
    ends = [
        entry["data_offsets"][1]
        for name, entry in header.items()
        if name != "__metadata__" and isinstance(entry, dict) and isinstance(entry.get("data_offsets"), list)
    ]
    declared = 8 + length + max((e for e in ends if isinstance(e, int)), default=0)
    if declared != size:
        raise FolderError(
            f"{path}: damaged or replaced (its header declares {declared:,} bytes but the file holds {size:,})"
        )
    free = free_bytes("cpu")
    if free is not None and 2 * size > 0.8 * free:  # the bytes, then the tensors made of them
        raise FolderError(f"{path}: {size / 2**30:.1f} GiB, more than the memory free ({free / 2**30:.1f} GiB) holds")
