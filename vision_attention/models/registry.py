"""One registry of models, as timm's and torchvision's: model classes, recipes and shipped weights.

- Model classes (``@register_model``) are what checkpoints, model folders and the shipped models
  name: :func:`build_model` rebuilds one from its class name and config, the one rebuild path of
  the package.
- Recipes are the experiments of ``vision_attention/recipes/<name>.yaml`` (``train/`` in a
  checkout), the only place a model's sizes are written: :func:`get_model` builds a recipe's
  model by name from its YAML's model section, :func:`list_models` names them. A new YAML in that
  folder is a new name, with nothing else to write.
- Shipped weights hang off the recipe that made them (``sat_soft_flickr8k_lite2_scst.seed0``):
  ``list_models(pretrained=True)`` names them, :func:`vision_attention.pretrained.get_weights`
  gives each one's files and figures.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from torch import nn

from ..configured import rebuild

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
_CLASSES: dict[str, type] = {}
T = TypeVar("T")


def register_model(cls: T) -> T:
    """Register a model class by its name, for :func:`build_model`."""
    name = cls.__name__
    if name in _CLASSES and _CLASSES[name] is not cls:
        raise ValueError(f"a model named {name!r} is registered already ({_CLASSES[name].__module__})")
    _CLASSES[name] = cls
    return cls


def build_model(class_name: str, config: dict[str, Any]) -> nn.Module:
    """Rebuild a model (fresh weights) from its class name and ``config``, as checkpoints and
    model folders store them."""
    if class_name not in _CLASSES:
        raise ValueError(f"unknown model class {class_name!r}; known: {', '.join(sorted(_CLASSES))}")
    return rebuild(_CLASSES[class_name], config)


def model_classes() -> dict[str, type]:
    """The registered model classes by name."""
    return dict(_CLASSES)


def recipe(name: str) -> dict:
    """The parsed YAML of recipe ``name`` (``recipes/<name>.yaml``)."""
    import yaml

    path = RECIPES / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown model {name!r}; known: {', '.join(list_models())}")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def instantiate(spec: Any, **overrides: Any) -> Any:
    """A YAML ``class_path`` / ``init_args`` tree built into objects, as LightningCLI builds it.
    Each override reaches every class in the tree that takes an argument of its name (``weights``
    the backbone, ``vocab_size`` the model); one that none takes is an error."""
    used: set[str] = set()
    built = _build(spec, overrides, used)
    unused = sorted(set(overrides) - used)
    if unused:
        raise TypeError(f"nothing in this recipe takes {', '.join(unused)}")
    return built


def _build(spec: Any, overrides: dict, used: set[str]) -> Any:
    if isinstance(spec, list):
        return [_build(s, overrides, used) for s in spec]
    if not (isinstance(spec, dict) and "class_path" in spec):
        return spec
    module, name = spec["class_path"].rsplit(".", 1)
    cls: Callable = getattr(importlib.import_module(module), name)
    takes = inspect.signature(cls).parameters
    given = {k: v for k, v in overrides.items() if k in takes}  # what the caller replaces is not built
    args = {k: _build(v, overrides, used) for k, v in (spec.get("init_args") or {}).items() if k not in given}
    args.update(given)
    used.update(given)
    if "image_shape" in args and isinstance(args["image_shape"], list):
        args["image_shape"] = tuple(args["image_shape"])  # YAML has lists; the models take shapes
    return cls(**args)


def get_model(name: str, **overrides: Any) -> nn.Module:
    """The model of recipe ``name``, untrained: ``get_model("sat_soft_shapes", vocab_size=V)``;
    ``weights=None`` builds a pretrained backbone without its weights file. A shipped model's name
    (``sat_soft_flickr8k_lite2_scst.seed0``) gives its recipe's model; load its weights with the inference
    classes' ``from_pretrained``."""
    return instantiate(recipe(name.split(".", 1)[0])["model"]["init_args"]["model"], **overrides)


def list_models(pretrained: bool = False, kind: str | None = None) -> list[str]:
    """The recipes' names, or with ``pretrained`` the shipped models' (``<recipe>.<tag>``, of
    one ``kind`` if given)."""
    if pretrained:
        from ..pretrained import WEIGHTS

        return sorted(name for name, w in WEIGHTS.items() if kind is None or w.kind == kind)
    return sorted(p.stem for p in RECIPES.glob("*.yaml"))
