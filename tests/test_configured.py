"""A model's config is its __init__'s arguments, recorded, and rebuilds the same model."""

import dataclasses
import inspect

import pytest
from torch import nn

from vision_attention.configured import Configured, rebuild
from vision_attention.models import build_model, get_model, list_models
from vision_attention.models.backbones import Backbone
from vision_attention.models.registry import model_classes


@pytest.mark.parametrize("name", sorted(model_classes()))
def test_every_model_class_records_each_argument_of_its_init(name):
    cls = model_classes()[name]
    arguments = [p for p in list(inspect.signature(cls.__init__).parameters)[1:] if p not in cls.config_exclude]
    assert [f.name for f in dataclasses.fields(cls.Config)] == arguments


def test_an_argument_added_to_init_is_in_the_config_without_writing_it_there():
    class Scaled(Configured, nn.Module):
        def __init__(self, size: int, scale: float = 2.0, encoder: Backbone | None = None) -> None:
            super().__init__()
            self.linear = nn.Linear(size, size)

    model = Scaled(3, encoder=Backbone("tiny", grid=None, width=4))
    assert model.config == {"size": 3, "scale": 2.0, "encoder": model.config["encoder"]}
    assert model.config["encoder"]["name"] == "tiny" and model.config["encoder"]["weights"] is None
    again = rebuild(Scaled, model.config)
    assert isinstance(again.linear, nn.Linear) and again.config == model.config
    assert isinstance(again, Scaled) and [f.type for f in dataclasses.fields(Scaled.Config)][:2] == [int, float]


def test_a_config_with_an_unknown_argument_is_one_line_naming_it():
    model = get_model("sentiment_lstm_attention", vocab_size=20)
    with pytest.raises(ValueError, match=r"AttentionClassifier config: .*'hiden_dim'.*its arguments: vocab_size"):
        build_model("AttentionClassifier", {**model.config, "hiden_dim": 5})
    with pytest.raises(ValueError, match="unknown model class 'Nope'"):
        build_model("Nope", {})


@pytest.mark.parametrize("name", ["sat_soft_shapes", "draw_shapes", "aligndraw_shapes", "dates_local_p"])
def test_a_named_model_rebuilds_from_its_config_with_the_same_parameters(name):
    model = get_model(name, **({"vocab_size": 30} if name != "draw_shapes" else {}))  # DRAW reads no words
    again = build_model(type(model).__name__, model.config)
    assert again.config == model.config
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    again.load_state_dict(model.state_dict())
    assert name in list_models()


def test_a_backbone_records_no_download_and_its_default_output_stride_not_at_all():
    tiny = Backbone("tiny", grid=None, width=4, progress=False)
    assert tiny.config == {"name": "tiny", "weights": None, "grid": None, "trainable_blocks": 0, "width": 4,
                           "downsample": 8}  # fmt: skip
    again = rebuild(Backbone, tiny.config)
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in tiny.state_dict().items()}
