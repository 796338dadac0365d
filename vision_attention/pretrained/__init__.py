"""The models shipped inside the package: trained weights attached to the recipe that made them,
as torchvision's weights enums and timm's ``model.tag`` names hold theirs. Nothing is downloaded
to use them.

Each is named ``<recipe>.<tag>`` (``sat_soft_flickr8k_lite2_scst.seed0``: :mod:`vision_attention.recipes`'s
``sat_soft_flickr8k_lite2_scst.yaml``, seed 0), and keeps the name it first shipped under
(``sat-soft-flickr8k``), which is its folder's. A folder beside this file holds it in the Hugging
Face layout (:mod:`vision_attention.files.model_folders`): ``model.safetensors``, ``config.json``
(constructor arguments, vocabulary, preprocessing and the measured figures, ``meta``) and the
model card ``README.md`` (data and licence, figures with split, scorer and beam, the command that
reproduces the weights).

    >>> from vision_attention.models import list_models
    >>> from vision_attention.pretrained import get_weights
    >>> list_models(pretrained=True)
    ['aligndraw_mnist_captions_cpu.seed0', 'draw_bmnist.seed0', 'sat_soft_flickr8k_lite2_scst.seed0']
    >>> weights = get_weights("sat-soft-flickr8k")          # or "sat_soft_flickr8k_lite2_scst.seed0"
    >>> weights.recipe, weights.meta["dev"]["beam_size"], weights.transforms()

Load one with ``Captioner.from_pretrained(name)`` or ``Drawer.from_pretrained(name)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..kinds import Kind

ROOT = Path(__file__).resolve().parent
WORDS = ROOT / "imagenet_words.json"  # ImageNet class -> caption words (guided captioning)


@dataclass(frozen=True)
class Weights:
    """A shipped model: the weights one recipe trained, in a folder beside this file.

    Args:
        name: ``<recipe>.<tag>``.
        kind: what it is.
        folder: its folder's name, also the name it first shipped under.
    """

    name: str
    kind: Kind
    folder: str

    @property
    def recipe(self) -> str:
        """The recipe (``vision_attention/recipes/<recipe>.yaml``) that trained it."""
        return self.name.split(".", 1)[0]

    @property
    def path(self) -> Path:
        return ROOT / self.folder

    @property
    def card(self) -> Path:
        return self.path / "README.md"

    @cached_property
    def _config(self) -> dict:
        from ..files.model_folders import read_config  # a missing or damaged config: one line naming it

        return read_config(self.path)

    @property
    def meta(self) -> dict:
        """Its figures and their provenance (config.json's ``meta``)."""
        return self._config.get("meta", {})

    @property
    def preprocessing(self) -> dict:
        """What an input goes through before the model (config.json's)."""
        return self._config.get("preprocessing", {})

    def transforms(self):
        """The preprocessing as a callable: an image (path, PIL image, array or tensor) ->
        the model's input tensor, as in training."""
        from ..data.image_decoding import ImageTransform

        p = self.preprocessing
        if "image_size" in p:
            return ImageTransform(p["image_size"])
        return ImageTransform(tuple(p["image_shape"][1:]), channels=p["image_shape"][0], binarize=p.get("binarize", False))


WEIGHTS = {
    w.name: w
    for w in (
        Weights("sat_soft_flickr8k_lite2_scst.seed0", Kind.CAPTIONER, "sat-soft-flickr8k"),
        Weights("draw_bmnist.seed0", Kind.DRAWER, "draw-bmnist"),
        Weights("aligndraw_mnist_captions_cpu.seed0", Kind.ALIGNDRAWER, "aligndraw-mnist-captions"),
    )
}
ALIASES = {w.folder: w.name for w in WEIGHTS.values()}  # the names they first shipped under


def is_shipped(name: object) -> bool:
    """Is ``name`` a shipped model's name (either of its names)?"""
    return isinstance(name, str) and (name in WEIGHTS or name in ALIASES)


def get_weights(name: str) -> Weights:
    """A shipped model by either of its names; another name is a KeyError listing them."""
    if not is_shipped(name):
        raise KeyError(f"{name!r} is not a shipped model; shipped: {', '.join(sorted(ALIASES))} (or {', '.join(sorted(WEIGHTS))})")
    return WEIGHTS[ALIASES.get(name, name)]
