"""Each train/*.yaml model has a Python preset of the same sizes."""

import importlib
import inspect
from pathlib import Path

import pytest
import yaml

from vision_attention.models import get_model, list_models, presets

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "train").glob("*.yaml"))
VOCAB = 57


def build(spec):
    """Instantiate a config's class_path / init_args tree; backbones untrained (no weights file)."""
    if isinstance(spec, list):
        return [build(s) for s in spec]
    if not (isinstance(spec, dict) and "class_path" in spec):
        return spec
    module, name = spec["class_path"].rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    args = {k: build(v) for k, v in spec.get("init_args", {}).items()}
    if "weights" in args:
        args["weights"] = None
    if "vocab_size" in inspect.signature(cls).parameters:
        args.setdefault("vocab_size", VOCAB)
    if "image_shape" in args:
        args["image_shape"] = tuple(args["image_shape"])
    return cls(**args)


def call(name):
    parameters = inspect.signature(getattr(presets, name)).parameters
    return get_model(
        name,
        **({"vocab_size": VOCAB} if "vocab_size" in parameters else {}),
        **({"weights": None} if "weights" in parameters else {}),
    )


def test_every_config_has_a_preset_and_every_preset_a_config():
    assert {c.stem for c in CONFIGS} == set(list_models())


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.stem)
def test_the_preset_builds_the_configs_model(config):
    from_yaml = build(yaml.safe_load(config.read_text())["model"]["init_args"]["model"])
    preset = call(config.stem)
    assert type(preset) is type(from_yaml)
    assert sum(p.numel() for p in preset.parameters()) == sum(p.numel() for p in from_yaml.parameters())
    assert getattr(preset, "config", None) == getattr(from_yaml, "config", None)
