"""One registry of models, as timm's and torchvision's: classes and named builders.

- Model classes (``@register_model`` on a class) are what checkpoints, model folders and the
  shipped models name: :func:`build_model` rebuilds one from its class name and config, the
  one rebuild path of the package.
- Named builders (``@register_model`` on a function, :mod:`.presets`) are the model of each
  ``train/<name>.yaml``: :func:`get_model` builds one by name, :func:`list_models` names them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from ..configured import rebuild

_CLASSES: dict[str, type] = {}
_BUILDERS: dict[str, Callable[..., nn.Module]] = {}
T = TypeVar("T")


def register_model(obj: T) -> T:
    """Register a model class (by its class name) or a named builder (by its function name)."""
    table = _CLASSES if isinstance(obj, type) else _BUILDERS
    name = obj.__name__
    if name in table and table[name] is not obj:
        raise ValueError(f"a model named {name!r} is registered already ({table[name].__module__})")
    table[name] = obj
    return obj


def build_model(class_name: str, config: dict[str, Any]) -> nn.Module:
    """Rebuild a model (fresh weights) from its class name and ``config``, as checkpoints and
    model folders store them."""
    if class_name not in _CLASSES:
        raise ValueError(f"unknown model class {class_name!r}; known: {', '.join(sorted(_CLASSES))}")
    return rebuild(_CLASSES[class_name], config)


def get_model(name: str, **kwargs: Any) -> nn.Module:
    """The model of ``train/<name>.yaml``, untrained: ``get_model("sat_soft_shapes", vocab_size=V)``."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[name](**kwargs)


def list_models() -> list[str]:
    """The names :func:`get_model` builds."""
    return sorted(_BUILDERS)


def model_classes() -> dict[str, type]:
    """The registered model classes by name."""
    return dict(_CLASSES)
