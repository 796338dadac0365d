"""One config per model, written once: the typed arguments of its ``__init__``.

A class deriving from :class:`Configured` gets ``Config``, a dataclass made from its
``__init__`` signature (names, types and defaults, as nanoGPT's ``GPTConfig`` holds them),
and each instance gets ``config``: the arguments it was built with, as a JSON-ready dict,
recorded as ``__init__`` receives them, so that an argument added to ``__init__`` is in the
config without anyone writing it there. :func:`rebuild` makes the same module from a config
(fresh weights): the one path checkpoints, model folders and shipped models go through.

Recorded values: a :class:`Configured` argument (a backbone) as its own config; any other
module as ``"module:<class>"`` (a model holding one cannot be rebuilt from its config alone);
tuples as lists.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from typing import Any, ClassVar

from torch import nn

MODULE_PREFIX = "module:"


class Configured:
    """Mixin recording ``__init__``'s arguments as ``self.config`` (see the module docstring).

    Class attributes:
        config_exclude: arguments that do not change the model built (a progress bar).
    """

    config_exclude: ClassVar[tuple[str, ...]] = ()
    Config: ClassVar[type]
    config: dict

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            return
        init = cls.__init__
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self, *args: Any, **kwargs: Any) -> None:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            init(self, *args, **kwargs)
            arguments = {k: v for k, v in list(bound.arguments.items())[1:] if k not in cls.config_exclude}
            self.config = cls.recorded(arguments)

        cls.__init__ = recording_init
        cls.Config = _config_dataclass(cls, signature)

    @classmethod
    def recorded(cls, arguments: dict[str, Any]) -> dict[str, Any]:
        """The config of these ``__init__`` arguments; a class may adjust it (say why)."""
        return {name: _recorded_value(value) for name, value in arguments.items()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        """Rebuild (fresh weights) from a :attr:`config`: :func:`rebuild`."""
        return rebuild(cls, config)

    @classmethod
    def upgrade_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Configs written by earlier versions, in today's form (default: as they are)."""
        return config


def _recorded_value(value: Any) -> Any:
    if isinstance(value, Configured):
        return value.config
    if isinstance(value, nn.Module):  # a module of its own: named, not serialisable
        return f"{MODULE_PREFIX}{type(value).__qualname__}"
    if isinstance(value, tuple):
        return list(value)
    return value


def _config_dataclass(cls: type, signature: inspect.Signature) -> type:
    """``cls.Config``: a dataclass with ``__init__``'s recorded arguments, types and defaults."""
    hints = _hints(cls)
    fields = []
    for name, parameter in list(signature.parameters.items())[1:]:
        if name in cls.config_exclude or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        default = parameter.default
        if default is inspect.Parameter.empty:
            fields.append((name, hints.get(name, Any)))
        else:
            fields.append((name, hints.get(name, Any), dataclasses.field(default=default)))
    config = dataclasses.make_dataclass(f"{cls.__name__}Config", fields)
    config.__module__, config.__qualname__ = cls.__module__, f"{cls.__qualname__}.Config"
    return config


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls.__init__)
    except (NameError, TypeError):  # an annotation that names what the module never imports
        return {}


def _configured_classes(annotation: Any) -> list[type]:
    """The Configured classes an annotation allows (``Backbone | None`` -> [Backbone])."""
    args = typing.get_args(annotation) or (annotation,)
    return [a for a in args if isinstance(a, type) and issubclass(a, Configured)]


def rebuild(cls: type, config: dict[str, Any]) -> Any:
    """A new ``cls`` (fresh weights) from ``config``: checked against ``cls.Config``, nested
    configs of Configured arguments rebuilt first. Bad configs are one ValueError line."""
    config = cls.upgrade_config(dict(config))
    try:
        typed = cls.Config(**config)
    except TypeError as err:
        known = ", ".join(f.name for f in dataclasses.fields(cls.Config))
        raise ValueError(f"{cls.__name__} config: {err} (its arguments: {known})") from None
    hints = _hints(cls)
    kwargs = {}
    for field in dataclasses.fields(typed):
        value = getattr(typed, field.name)
        if isinstance(value, str) and value.startswith(MODULE_PREFIX):
            raise ValueError(
                f"this {cls.__name__}'s {field.name} is a module of its own ({value[len(MODULE_PREFIX) :]}): "
                "build the model with it, then load the weights"
            )
        nested = _configured_classes(hints.get(field.name))
        if isinstance(value, dict) and nested:
            value = rebuild(nested[0], value)
        kwargs[field.name] = value
    return cls(**kwargs)
