"""Each recipe (vision_attention/recipes/*.yaml, train/ in a checkout) is the one place its model
is written: get_model builds it by name, and a new YAML is a new name with nothing else to write."""

import inspect
import shutil

import pytest
import yaml

from vision_attention.files.model_folders import read_config
from vision_attention.models import get_model, instantiate, list_models, registry
from vision_attention.pretrained import WEIGHTS

RECIPES = sorted(registry.RECIPES.glob("*.yaml"))


def _needs_words(name: str) -> bool:
    spec = yaml.safe_load((registry.RECIPES / f"{name}.yaml").read_text())["model"]["init_args"]["model"]
    module, cls = spec["class_path"].rsplit(".", 1)
    return "vocab_size" in inspect.signature(getattr(__import__(module, fromlist=[cls]), cls)).parameters


def build(name: str, **extra):
    options = {"vocab_size": 57} if _needs_words(name) else {}
    if "weights:" in (registry.RECIPES / f"{name}.yaml").read_text():
        options["weights"] = None  # no weights file read
    return get_model(name, **options, **extra)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_builds_its_model_by_name_as_lightning_cli_would(path):
    model = build(path.stem)
    spec = yaml.safe_load(path.read_text())["model"]["init_args"]["model"]
    assert type(model).__name__ == spec["class_path"].rsplit(".", 1)[1]
    assert path.stem in list_models()


def test_a_new_yaml_in_the_recipes_folder_is_a_model_by_name(tmp_path, monkeypatch):
    folder = tmp_path / "recipes"
    shutil.copytree(registry.RECIPES, folder)
    text = (folder / "sat_soft_shapes.yaml").read_text().replace("hidden_dim: 256", "hidden_dim: 96")
    (folder / "sat_soft_shapes_small.yaml").write_text(text)
    monkeypatch.setattr(registry, "RECIPES", folder)
    assert "sat_soft_shapes_small" in list_models()
    small, full = get_model("sat_soft_shapes_small", vocab_size=20), get_model("sat_soft_shapes", vocab_size=20)
    assert small.config["hidden_dim"] == 96 and full.config["hidden_dim"] == 256
    assert {k: v for k, v in small.config.items() if k != "hidden_dim"} == {
        k: v for k, v in full.config.items() if k != "hidden_dim"
    }


def test_overrides_reach_the_class_that_takes_them_and_an_unused_one_is_an_error():
    model = get_model("sat_soft_flickr8k", vocab_size=30, weights=None, trainable_blocks=0)
    assert model.vocab_size == 30 and model.encoder.frozen == len(model.encoder.blocks)
    with pytest.raises(TypeError, match="nothing in this recipe takes hiden_dim"):
        get_model("sat_soft_shapes", vocab_size=30, hiden_dim=5)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        get_model("nope")
    assert (
        instantiate({"class_path": "torch.nn.Linear", "init_args": {"in_features": 2}}, out_features=3).out_features
        == 3
    )


def test_shipped_weights_hang_off_the_recipe_that_made_them():
    assert list_models(pretrained=True) == sorted(WEIGHTS)
    for name, weights in WEIGHTS.items():
        assert weights.recipe in list_models() and name.startswith(weights.recipe + ".")
    assert list_models(pretrained=True, kind="captioner") == ["sat_soft_flickr8k_lite2_scst.seed0"]
    for name, weights in WEIGHTS.items():  # each folder's model is its recipe's, argument for argument
        shipped = read_config(weights.path)["model_config"]
        overrides = {"vocab_size": shipped["vocab_size"]} if "vocab_size" in shipped else {}
        built = dict(get_model(name, **overrides, **({"weights": None} if "encoder" in shipped else {})).config)
        if "encoder" in shipped:  # built without the weights file, which the folder names
            built["encoder"] = {**built["encoder"], "weights": shipped["encoder"]["weights"]}
        assert built == shipped, name
