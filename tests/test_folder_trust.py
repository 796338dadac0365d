"""A model folder runs no code and reads nothing outside itself; a shipped name always means the
shipped model; a record whose parts do not fit is one line. Each test is a case a hostile but
fair probe reported (trust, third round)."""

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from vision_attention.cli import main
from vision_attention.files.model_folders import CONFIG, WEIGHTS
from vision_attention.inference import Captioner
from vision_attention.models import ShowAttendTell
from vision_attention.models.backbones import Backbone
from vision_attention.vocab import Vocabulary

from .helpers import refused_in_one_line


@pytest.fixture
def resnet_folder(tmp_path):
    """A ResNet-18 captioner saved with save_pretrained (random weights: nothing downloaded)."""
    torch.manual_seed(0)
    model = ShowAttendTell(6, Backbone("resnet18", weights=None, grid=2), embed_dim=8, hidden_dim=8, attn_dim=8)
    return Captioner(model, Vocabulary(["a", "dog"]), 64).save_pretrained(tmp_path / "resnet")


def _edit(folder: Path, change) -> None:
    config = json.loads((folder / CONFIG).read_text())
    change(config)
    (folder / CONFIG).write_text(json.dumps(config))


class _Marker:
    """Unpickling this writes a file: proof that a pickle was run."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (Path(self.path).write_text, ("pickle ran",))


def test_hub_weights_named_in_a_folder_are_refused_before_anything_is_fetched_or_unpickled(
    resnet_folder, tmp_path, monkeypatch, capsys
):
    """Reported: model_config.encoder.weights = "IMAGENET1K_V1" sent loading through
    torch.hub, whose cached file was unpickled: a planted file ran its code."""
    home = tmp_path / "torch_home"
    cache = home / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    marker = tmp_path / "marker"
    torch.save(_Marker(marker), cache / "resnet18-f37072fd.pth")  # unpickled, it writes the marker
    monkeypatch.setenv("TORCH_HOME", str(home))
    _edit(resnet_folder, lambda c: c["model_config"]["encoder"].update(weights="IMAGENET1K_V1"))
    refused_in_one_line(
        ["caption", "--model", str(resnet_folder), str(tmp_path / "x.jpg")],
        capsys,
        str(resnet_folder),
        "model_config.encoder.weights is 'IMAGENET1K_V1'",
    )
    assert not marker.exists()
    assert sorted(p.name for p in home.rglob("*")) == ["checkpoints", "hub", "resnet18-f37072fd.pth"]


@pytest.mark.parametrize("file", ["../other/model.safetensors", "/etc/passwd", "sub/model.safetensors", ".."])
def test_weights_file_must_lie_inside_the_folder(resnet_folder, tmp_path, file):
    """Reported: weights.file "../other/model.safetensors" loaded another folder's tensors;
    "/etc/passwd" was read and hashed."""
    other = tmp_path / "other"
    shutil.copytree(resnet_folder, other)
    _edit(resnet_folder, lambda c: c["weights"].update(file=file))
    with pytest.raises(ValueError, match="must name a file inside the folder"):
        Captioner.from_pretrained(resnet_folder)


def test_a_weights_file_that_is_a_link_out_of_the_folder_is_refused(resnet_folder, tmp_path):
    outside = tmp_path / "elsewhere.safetensors"
    os.replace(resnet_folder / WEIGHTS, outside)
    (resnet_folder / WEIGHTS).symlink_to(outside)
    with pytest.raises(ValueError, match="a link to a file outside the folder"):
        Captioner.from_pretrained(resnet_folder)


def test_a_shipped_name_is_the_shipped_model_whatever_the_working_directory_holds(
    resnet_folder, tmp_path, monkeypatch, capsys
):
    """Reported: a folder sat-soft-flickr8k/ in the working directory (a doctored vocabulary)
    changed plain `caption photo.jpg`, and the output still named the shipped model; a stray
    file named draw-bmnist broke plain `draw`."""
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    shutil.copytree(resnet_folder, tmp_path / "sat-soft-flickr8k")
    (tmp_path / "draw-bmnist").write_text("not a model")
    Image.new("RGB", (64, 64), "gray").save(tmp_path / "photo.jpg")
    assert main(["caption", "--json", "photo.jpg"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    shipped = Captioner.from_pretrained("sat-soft-flickr8k").caption(tmp_path / "photo.jpg")[0]
    assert record["caption"] == shipped.text and record["model"] == "sat-soft-flickr8k"
    assert main(["caption", "--json", "--model", "./sat-soft-flickr8k", "photo.jpg"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["model"] == "./sat-soft-flickr8k"  # a path, written as one, is that folder
    assert main(["draw", "--num", "1", "--out", str(tmp_path / "d.gif")]) == 0


@pytest.mark.parametrize("dtype", [torch.bool, torch.int32])
def test_weights_of_the_wrong_dtype_are_refused(resnet_folder, dtype):
    """Reported: bool or int tensors where the config says float32 drew garbage with rc 0."""
    from safetensors.torch import load_file

    state = load_file(resnet_folder / WEIGHTS)
    state["out.weight"] = state["out.weight"].to(dtype)
    save_file(state, resnet_folder / WEIGHTS)
    data = (resnet_folder / WEIGHTS).read_bytes()
    import hashlib

    _edit(resnet_folder, lambda c: c["weights"].update(sha256=hashlib.sha256(data).hexdigest()))
    with pytest.raises(ValueError, match=f"out.weight holds {dtype} values where the model has torch.float32"):
        Captioner.from_pretrained(resnet_folder)


def test_packaged_prefixes_cannot_stand_for_tensors_the_package_does_not_hold(resnet_folder):
    """Reported: prefixes [""] and no weights loaded a randomly initialised model, rc 0."""
    save_file({}, resnet_folder / WEIGHTS)
    import hashlib

    digest = hashlib.sha256((resnet_folder / WEIGHTS).read_bytes()).hexdigest()
    _edit(resnet_folder, lambda c: c["weights"].update(sha256=digest, packaged={"prefixes": [""]}))
    with pytest.raises(ValueError, match="weights.packaged.prefixes names ''"):
        Captioner.from_pretrained(resnet_folder)


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda c: c.update(weights="model.safetensors"), "'weights' must be an object"),
        (lambda c: c["weights"].update(file=None), "'weights.file' must be a file name"),
        (lambda c: c.update(model_config=[1, 2]), "'model_config' must be an object"),
        (lambda c: c.update(preprocessing=[224]), "'preprocessing' must be an object"),
        (lambda c: c["weights"].update(packaged="all"), "weights.packaged.prefixes must be a list"),
        (lambda c: c["vocab"].update(itos=c["vocab"]["itos"][:5]), "its vocabulary holds 5 words but its weights 6"),
        (lambda c: c["preprocessing"].update(image_size=20000), "preprocessing.image_size must be"),
        (lambda c: c["preprocessing"].update(image_size=[224]), "preprocessing.image_size must be"),
        (lambda c: c["preprocessing"].update(image_size=1), "preprocessing.image_size must be"),
    ],
)
def test_a_config_of_the_wrong_shape_is_one_line(resnet_folder, tmp_path, capsys, change, expected):
    """Reported: wrong JSON types, a captioner whose class is DRAW, a vocabulary shorter than
    vocab_size and an unbounded image size ended in tracebacks (TypeError, AttributeError
    'encode', IndexError while decoding, a 4.7 GB allocation) or captioned a 1-pixel image."""
    _edit(resnet_folder, change)
    refused_in_one_line(
        ["caption", "--model", str(resnet_folder), str(tmp_path / "x.jpg")], capsys, str(resnet_folder), expected
    )


def test_a_drawer_folder_labelled_a_captioner_is_one_line(tmp_path, capsys):
    """Reported: a folder whose kind is captioner but whose class is DRAW built, then failed
    with AttributeError 'encode'."""
    from vision_attention import pretrained

    folder = tmp_path / "draw"
    shutil.copytree(pretrained.ROOT / "draw-bmnist", folder)
    _edit(folder, lambda c: c.update(kind="captioner", vocab=Vocabulary(["a"]).to_dict()))
    refused_in_one_line(
        ["caption", "--model", str(folder), str(tmp_path / "x.jpg")],
        capsys,
        str(folder),
        "a captioner must be a ShowAttendTell, not 'DRAW'",
    )


def test_a_config_nested_ten_thousand_deep_is_one_line(resnet_folder, tmp_path, capsys):
    text = (resnet_folder / CONFIG).read_text()
    (resnet_folder / CONFIG).write_text(text[:-2] + ', "deep": ' + "[" * 10000 + "]" * 10000 + "}\n")
    refused_in_one_line(["caption", "--model", str(resnet_folder), str(tmp_path / "x.jpg")], capsys, "nested too deep")


def test_a_checkpoint_whose_vocabulary_is_shorter_than_its_weights_is_one_line(tiny_captioner, tmp_path, capsys):
    """Reported (the last round's one failure left): an IndexError traceback while decoding."""
    checkpoint, photos = tiny_captioner
    state = torch.load(checkpoint, weights_only=True)
    state["vision_attention"]["vocab"]["itos"] = state["vision_attention"]["vocab"]["itos"][:6]
    torch.save(state, tmp_path / "short.ckpt")
    refused_in_one_line(
        ["caption", "--checkpoint", str(tmp_path / "short.ckpt"), str(photos[0])],
        capsys,
        "its vocabulary holds 6 words but its weights",
    )


def test_a_sparse_100_gb_weights_file_is_refused_without_reading_it(resnet_folder, capsys, tmp_path):
    """Reported: a 100 GB sparse model.safetensors was read whole: a bare MemoryError."""
    with open(resnet_folder / WEIGHTS, "r+b") as f:
        f.truncate(100 * 2**30)
    refused_in_one_line(
        ["caption", "--model", str(resnet_folder), str(tmp_path / "x.jpg")],
        capsys,
        "its header declares",
        "but the file holds 107,374,182,400",
    )
