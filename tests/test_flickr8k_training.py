"""Real photos, end to end: the Flickr8k subset trains from raw images and from the
feature cache, and the cache means the CNN never runs during cached training."""

import lightning as L
import torch

from vision_attention.data import CaptionFilesDataModule
from vision_attention.inference import Captioner
from vision_attention.lit import CaptioningModule
from vision_attention.models import ShowAttendTell
from vision_attention.models.backbones import Backbone


def make(data_dir, tmp_path, cache):
    L.seed_everything(0)
    data = CaptionFilesDataModule(
        str(data_dir / "flickr8k_subset" / "captions.txt"),
        image_size=64,
        val_share=0.05,
        test_share=0.0,
        min_count=3,
        batch_size=16,
        feature_cache=str(tmp_path / "cache") if cache else None,
    )
    data.setup()
    encoder = Backbone("resnet18", weights=None, grid=2, trainable_blocks=0 if cache else 1)
    model = ShowAttendTell(len(data.vocab), encoder, embed_dim=16, hidden_dim=32, attn_dim=16)
    trainer = L.Trainer(
        max_steps=4,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=1,
        val_check_interval=4,
        default_root_dir=tmp_path,
    )
    return data, model, trainer


def test_trains_from_raw_photos(data_dir, tmp_path):
    data, model, trainer = make(data_dir, tmp_path, cache=False)
    before = model.encoder.blocks[-1][0].conv1.weight.clone()
    trainer.fit(CaptioningModule(model, beam_size=2, max_len=8), datamodule=data)
    assert not torch.equal(before, model.encoder.blocks[-1][0].conv1.weight), "the fine-tuned block did not train"
    assert "val/bleu4" in trainer.callback_metrics


def test_trains_from_the_feature_cache_without_running_the_cnn(data_dir, tmp_path):
    data, model, trainer = make(data_dir, tmp_path, cache=True)
    calls = []
    model.encoder.register_forward_hook(lambda *_: calls.append(1))
    module = CaptioningModule(model, beam_size=2, max_len=8)
    trainer.fit(module, datamodule=data)
    batches_to_cache = sum(-(-len(split) // 64) for split in data.splits.values() if len(split))  # 64 a cache batch
    assert len(calls) == batches_to_cache, "the CNN ran beyond building the cache"
    assert "features" in next(iter(data.train_dataloader()))
    cached = sorted((tmp_path / "cache").glob("*.f16"))
    assert len(cached) == 2  # train and val
    # A second run finds the cache and never calls the CNN.
    data2, model2, trainer2 = make(data_dir, tmp_path, cache=True)
    model2.encoder.load_state_dict(model.encoder.state_dict())
    calls.clear()
    model2.encoder.register_forward_hook(lambda *_: calls.append(1))
    trainer2.fit(CaptioningModule(model2, beam_size=2, max_len=8), datamodule=data2)
    assert calls == []
    # The checkpoint still captions raw photos: it carries the frozen encoder.
    trainer2.save_checkpoint(tmp_path / "cached.ckpt")
    image = data_dir / "flickr8k_subset" / "images" / min((data_dir / "flickr8k_subset" / "images").iterdir()).name
    result = Captioner.from_checkpoint(tmp_path / "cached.ckpt").caption(image, beam_size=2, max_len=8)[0]
    assert result.alphas.shape[1:] == (2, 2)
