"""The models shipped inside the package, by name, as torchvision's weights enums and timm's
registry name theirs: nothing is downloaded to use them.

Each is a folder beside this file in the Hugging Face layout (:mod:`vision_attention.model_folders`):
``model.safetensors``, ``config.json`` (constructor arguments, vocabulary, preprocessing and
the measured figures, ``meta``) and the model card ``README.md`` (data and licence, figures
with split, scorer and beam, the command that reproduces the weights).

    >>> from vision_attention.pretrained import get_model_info, list_models
    >>> list_models("captioner")
    ['sat-soft-flickr8k']
    >>> info = get_model_info("sat-soft-flickr8k")
    >>> info.meta["dev"]["coco_bleu4"], info.transforms()       # figures; image -> model input

Load one with ``Captioner.from_pretrained(name)`` or ``Drawer.from_pretrained(name)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SHIPPED = {  # name -> kind
    "sat-soft-flickr8k": "captioner",
    "draw-bmnist": "drawer",
    "aligndraw-mnist-captions": "aligndrawer",
}
DEFAULTS = {kind: name for name, kind in SHIPPED.items()}  # what a command uses when given no model


@dataclass(frozen=True)
class PretrainedModel:
    """A shipped model's entry: where it lies, what it is, what it measures."""

    name: str
    kind: str  # captioner, drawer or aligndrawer
    path: Path  # its folder
    meta: dict  # the figures and their provenance (config.json's "meta")
    preprocessing: dict  # what an input goes through before the model (config.json's)

    @property
    def card(self) -> Path:
        return self.path / "README.md"

    def transforms(self):
        """The preprocessing as a callable: an image (path, PIL image, array or tensor) ->
        the model's input tensor, as in training."""
        from ..data.image_decoding import ImageTransform

        p = self.preprocessing
        if "image_size" in p:
            return ImageTransform(p["image_size"])
        return ImageTransform(tuple(p["image_shape"][1:]), channels=p["image_shape"][0], binarize=p.get("binarize", False))


def list_models(kind: str | None = None) -> list[str]:
    """The shipped models' names, of one ``kind`` if given."""
    return [name for name, k in SHIPPED.items() if kind is None or k == kind]


def shipped_path(name: str) -> Path:
    if name not in SHIPPED:
        raise KeyError(f"{name!r} is not a shipped model; shipped: {', '.join(SHIPPED)}")
    return ROOT / name


def get_model_info(name: str) -> PretrainedModel:
    """The registry entry of a shipped model; a missing or damaged config is one line naming it."""
    from ..model_folders import read_config

    config = read_config(shipped_path(name))
    return PretrainedModel(name, SHIPPED[name], ROOT / name, config.get("meta", {}), config.get("preprocessing", {}))
