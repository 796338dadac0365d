"""The models shipped inside the package: each folder whole and as its card says, used by
default by `caption` and `draw`, carried by the wheel, refused with one line when damaged,
and (with the real data) scoring what its card says."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from vision_attention import pretrained
from vision_attention.cli import main
from vision_attention.files.model_folders import CONFIG, WEIGHTS, read_config
from vision_attention.inference import Captioner, Drawer
from vision_attention.models import list_models
from vision_attention.pretrained import ALIASES, get_weights

from .helpers import write_photo

ROOT = Path(__file__).resolve().parents[1]
LIMIT_BYTES = 40 * 10**6


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def photo(tmp_path):
    write_photo(tmp_path / "photo.jpg")
    return tmp_path / "photo.jpg"


def test_every_shipped_model_is_whole_small_and_as_its_card_says():
    total = 0
    for name in ALIASES:
        folder = pretrained.ROOT / name
        assert sorted(p.name for p in folder.iterdir()) == sorted([CONFIG, "README.md", WEIGHTS]), name
        total += sum(p.stat().st_size for p in folder.iterdir())
        config = read_config(folder)
        assert config["weights"]["sha256"] == sha256(folder / WEIGHTS)
        card = (folder / "README.md").read_text(encoding="utf-8")
        for file in (WEIGHTS, CONFIG):
            assert sha256(folder / file) in card, f"{name}: the card's sha256 of {file} is stale"
        for value in _figures(config["meta"]):
            assert f"{value}" in card, f"{name}: its card does not state {value} (config.json's meta)"
        assert "licen" in card.lower() and "vision-attention fit --config train/" in card
    assert total <= LIMIT_BYTES, f"the shipped models take {total / 1e6:.1f} MB, more than 40"


def _figures(meta: dict) -> list[str]:
    """The figures of a meta dict as the cards print them: scores in percent with one decimal,
    shares of distinct captions in whole percent, counts whole, bounds in nats with one decimal."""
    shown = []
    for split in ("dev", "test"):
        for key, value in (meta.get(split) or {}).get("figures", {}).items():
            if value is None:
                continue
            if key.startswith(("coco_", "bleu", "cider", "meteor")):
                shown.append(f"{100 * value:.1f}")
            elif key == "distinct_captions":
                shown.append(f"{100 * value:.0f}%")
            elif key == "words_used":
                shown.append(f"{value:.0f}")
            else:
                shown.append(f"{value:.1f}")
    return shown


def test_the_registry_lists_the_shipped_models_with_figures_and_preprocessing(photo):
    assert list_models(pretrained=True) == sorted(ALIASES.values())
    assert list_models(pretrained=True, kind="captioner") == [ALIASES["sat-soft-flickr8k"]]
    info = get_weights("sat-soft-flickr8k")
    assert info.kind == "captioner" and info.meta["dev"]["beam_size"] == 3 and info.card.is_file()
    x = info.transforms()(photo)
    assert x.shape == (3, 260, 260) and 0 <= float(x.min()) and float(x.max()) <= 1
    assert get_weights("draw-bmnist").transforms()(photo).shape == (1, 28, 28)
    assert get_weights("aligndraw-mnist-captions").transforms()(photo).shape == (1, 60, 60)
    with pytest.raises(KeyError, match="not a shipped model"):
        get_weights("sat-hard-flickr8k")


def test_caption_and_draw_work_with_no_model_named(photo, tmp_path, capsys):
    assert main(["caption", "--json", str(photo)]) == 0
    record = json.loads(capsys.readouterr().out)[0]
    assert record["model"] == "sat-soft-flickr8k" and record["beam_size"] == 3
    assert len(record["caption"].split()) >= 3 and "<unk>" not in record["caption"]
    assert main(["draw", "--num", "4", "--out", str(tmp_path / "digits.gif")]) == 0
    assert Image.open(tmp_path / "digits.gif").n_frames == Drawer.from_pretrained("draw-bmnist").model.steps + 1
    assert (
        main(
            [
                "draw",
                "--num",
                "2",
                "--caption",
                "the digit 7 is on the left of the digit 2",
                "--out",
                str(tmp_path / "seven_two.gif"),
            ]
        )
        == 0
    )
    assert (
        Image.open(tmp_path / "seven_two.gif").n_frames
        == Drawer.from_pretrained("aligndraw-mnist-captions").model.steps + 1
    )


def test_one_line_python_each():
    captioner = Captioner.from_pretrained()
    assert captioner.name == "sat-soft-flickr8k" and captioner.meta == get_weights("sat-soft-flickr8k").meta
    drawing = Drawer.from_pretrained("draw-bmnist").sample(3, seed=0)
    assert drawing.canvases.shape[1:] == (3, 1, 28, 28) and drawing.canvases.min() >= 0


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda folder: (folder / WEIGHTS).unlink(), "model.safetensors: missing"),
        (lambda folder: (folder / CONFIG).unlink(), "config.json: missing"),
        (lambda folder: (folder / WEIGHTS).write_bytes((folder / WEIGHTS).read_bytes()[:-1000]), "damaged or replaced"),
    ],
)
def test_a_missing_or_corrupt_shipped_file_is_one_line_naming_it(
    damage, expected, photo, tmp_path, monkeypatch, capsys
):
    copy = tmp_path / "shipped"
    shutil.copytree(pretrained.ROOT / "sat-soft-flickr8k", copy / "sat-soft-flickr8k")
    damage(copy / "sat-soft-flickr8k")
    monkeypatch.setattr(pretrained, "ROOT", copy)
    assert main(["caption", str(photo)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(copy / "sat-soft-flickr8k") in err[0] and expected in err[0], err


def test_a_wheel_carries_the_models_and_a_venv_with_it_captions_and_draws(photo, tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(wheels.glob("vision_attention-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for name in ALIASES:
        for file in (WEIGHTS, CONFIG, "README.md"):
            assert f"vision_attention/pretrained/{name}/{file}" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python*/site-packages"))
    # The dependencies (torch, timm, ...) come from this environment; the package only from the wheel.
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "deps.pth").write_text("\n".join(deps) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import vision_attention; print(vision_attention.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.returncode == 0 and where.stdout.strip().startswith(str(site)), where.stderr[-2000:]
    captioned = subprocess.run(
        [str(venv / "bin" / "vision-attention"), "caption", str(photo)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert captioned.returncode == 0 and captioned.stdout.startswith(f"{photo}\t"), captioned.stderr[-2000:]
    drawn = subprocess.run(
        [str(venv / "bin" / "vision-attention"), "draw", "--num", "2", "--out", "d.gif"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert drawn.returncode == 0 and Image.open(tmp_path / "d.gif").n_frames > 2, drawn.stderr[-2000:]


# ----- with the real data: the figures of the cards, and captions of ImageNet photos -----


@pytest.mark.slow
def test_the_captioner_scores_its_card_on_the_flickr8k_dev_split(data_dir):
    from vision_attention.data import read_caption_records
    from vision_attention.inference.scoring import caption_records, score_captions

    annotations = data_dir / "flickr8k" / "captions.txt"
    if not annotations.is_file():
        pytest.skip(f"{annotations} is not there")
    dev = [r for r in read_caption_records(annotations) if r.split == "val"]
    captioner = Captioner.from_pretrained("sat-soft-flickr8k", guide=False)  # the card's figures are unguided
    card = captioner.meta["dev"]
    assert card["photos"] == len(dev) == 1000 and card["beam_size"] == 3
    words = caption_records(captioner, dev, beam_size=3)
    figures = score_captions(words, [r.captions for r in dev], official=False)
    from vision_attention.metrics import coco_metrics

    official = coco_metrics(words, [r.captions for r in dev])  # BLEU and CIDEr-D need no Java
    assert abs(official["coco_bleu4"] - card["figures"]["coco_bleu4"]) <= 0.003
    assert abs(figures["bleu4"] - card["figures"]["bleu4"]) <= 0.003
    assert abs(official["coco_cider_d"] - card["figures"]["coco_cider_d"]) <= 0.01


@pytest.mark.slow
def test_the_drawer_scores_its_card_on_the_binarized_mnist_test_split(data_dir):
    from vision_attention.data import load_binarized_mnist

    if not (data_dir / "binarized_mnist").is_dir():
        pytest.skip("no binarized_mnist in VISION_ATTENTION_DATA")
    test = torch.from_numpy(load_binarized_mnist(data_dir / "binarized_mnist", "test")).float().unsqueeze(1)
    drawer = Drawer.from_pretrained("draw-bmnist")
    card = drawer.meta["test"]
    assert card["images"] == len(test) == 10000
    assert abs(float(drawer.bound(test, seed=card["seed"]).mean()) - card["figures"]["nll_bound"]) <= 0.5


@pytest.mark.slow
def test_the_aligndraw_model_scores_its_card_on_mnist_captions(data_dir):
    from vision_attention.data import MNISTCaptions, load_mnist

    if not (data_dir / "mnist").is_dir():
        pytest.skip("no mnist in VISION_ATTENTION_DATA")
    drawer = Drawer.from_pretrained("aligndraw-mnist-captions")
    card = drawer.meta["test"]
    digits, labels = load_mnist(data_dir / "mnist", train=False)
    scenes = MNISTCaptions(digits, labels, "test", card["images"], 0)
    items = [scenes[i] for i in range(len(scenes))]
    images = torch.stack([it["image"] for it in items])
    bound = drawer.bound(images, seed=card["seed"], caption=[it["captions"][0] for it in items])
    assert abs(float(bound.mean()) - card["figures"]["nll_bound"]) <= 0.5


@pytest.mark.slow
def test_imagenet_photos_get_valid_json_varied_captions_and_no_unk(data_dir, tmp_path):
    folder = data_dir / "imagenet_samples" / "images"
    if not folder.is_dir():
        pytest.skip(f"{folder} is not there")
    photos = sorted(folder.glob("*.JPEG"))
    assert len(photos) == 1000
    out = tmp_path / "captions.json"
    assert main(["caption", "--json", "--output", str(out), str(folder)]) == 0
    records = json.loads(out.read_text(encoding="utf-8"))
    assert [r["image"] for r in records] == [str(p) for p in photos]
    captions = [r["caption"] for r in records]
    assert all(c and re.fullmatch(r"[a-z0-9' -]+", c) for c in captions)
    assert not any("<unk>" in c for c in captions)
    assert len(set(captions)) >= 0.4 * len(captions)
    assert len({w for c in captions for w in c.split()}) >= 150
