"""Fine-tuning the last blocks of a pretrained encoder from a feature cache: the cache holds
the frozen trunk's output, the model runs the trainable tail on it, and the result is the
same encoder a checkpoint applies to raw photos."""

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from vision_attention.data import CaptionFilesDataModule
from vision_attention.lit import CaptioningModule
from vision_attention.models import ShowAttendTell
from vision_attention.models.backbones import Backbone


def photos(tmp_path, count=8):
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "images" / f"{i}.png")
    (tmp_path / "captions.txt").write_text(
        "image,caption\n"
        + "".join(f"{i}.png,a dog runs on the grass\n{i}.png,a brown dog plays\n" for i in range(count))
    )
    (tmp_path / "Flickr_8k.trainImages.txt").write_text("".join(f"{i}.png\n" for i in range(count - 2)))
    (tmp_path / "Flickr_8k.devImages.txt").write_text(f"{count - 2}.png\n{count - 1}.png\n")
    return tmp_path / "captions.txt"


def test_the_tail_on_the_trunk_equals_the_whole_encoder():
    torch.manual_seed(0)
    images = torch.rand(3, 3, 64, 64)
    tuned = Backbone("resnet18", weights=None, grid=None, trainable_blocks=2).eval()  # layer3, layer4 train
    assert tuned.fine_tuned
    trunk = tuned.trunk(images)
    assert trunk.shape == (3, 8 * 8, 128)  # layer2's 8 x 8 x 128 map at 64 x 64
    torch.testing.assert_close(tuned.from_trunk(trunk), tuned(images))
    with pytest.raises(ValueError, match="not a square map"):
        tuned.from_trunk(trunk[:, :63])
    frozen = Backbone("resnet18", weights=None, grid=None, trainable_blocks=0).eval()
    assert not frozen.fine_tuned
    torch.testing.assert_close(frozen.trunk(images), frozen(images))  # the whole encoder is the trunk
    assert frozen.from_trunk(trunk) is trunk


def test_fine_tuning_trains_the_tail_from_the_trunk_cache(tmp_path):
    L.seed_everything(0)
    data = CaptionFilesDataModule(
        str(photos(tmp_path)),
        image_size=64,
        min_count=1,
        batch_size=4,
        mirror=True,
        feature_cache=str(tmp_path / "cache"),
    )
    data.setup()
    encoder = Backbone("resnet18", weights=None, grid=None, trainable_blocks=2)
    stem_calls = []
    encoder.blocks[0].register_forward_hook(lambda *_: stem_calls.append(1))
    model = ShowAttendTell(len(data.vocab), encoder, embed_dim=16, hidden_dim=32, attn_dim=16)
    trunk_before = encoder.blocks[2][0].conv1.weight.clone()
    tail_before = encoder.blocks[-1][0].conv1.weight.clone()
    trainer = L.Trainer(
        max_steps=3,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=1,
        val_check_interval=3,
        check_val_every_n_epoch=None,
        default_root_dir=tmp_path,
    )
    trainer.fit(CaptioningModule(model, beam_size=2, max_len=6), datamodule=data)
    assert len(stem_calls) == 3, "the trunk ran beyond caching the train, mirror and dev photos once each"
    assert not torch.equal(tail_before, encoder.blocks[-1][0].conv1.weight), "the tail did not train"
    assert torch.equal(trunk_before, encoder.blocks[2][0].conv1.weight), "the frozen trunk changed"
    dev = data.splits["val"]
    assert dev.features.shape == (2, 64, 128)  # the trunk's output is cached, not the tail's

    # What training computes from the cache is what the encoder gives a raw photo.
    source = CaptionFilesDataModule(str(tmp_path / "captions.txt"), image_size=64, min_count=1)
    source.setup()
    image = source.splits["val"][0]["image"][None]
    encoder.eval()
    from_cache = encoder.from_trunk(torch.from_numpy(np.array(dev.features[:1], dtype=np.float32)))
    torch.testing.assert_close(from_cache, encoder(image), atol=2e-2, rtol=2e-2)  # the cache is float16

    # A resumed run (a trained tail) finds the same trunk cache.
    again = CaptionFilesDataModule(
        str(tmp_path / "captions.txt"), image_size=64, min_count=1, mirror=True, feature_cache=str(tmp_path / "cache")
    )
    stem_calls.clear()
    again.use_cached_features(encoder.cacheable())
    assert stem_calls == [] and len(list((tmp_path / "cache").glob("*.f16"))) == 3


def test_an_encoder_that_trains_every_block_cannot_use_a_cache(tmp_path):
    data = CaptionFilesDataModule(
        str(photos(tmp_path)), image_size=64, min_count=1, feature_cache=str(tmp_path / "cache")
    )
    with pytest.raises(ValueError, match="feature_cache needs a frozen encoder or trunk"):
        data.use_cached_features(Backbone("resnet18", weights=None, grid=None, trainable_blocks=-1).cacheable())
