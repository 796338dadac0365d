"""What the decoding tests share: a small captioner trained on ShapesCaptions."""

import lightning as L
import pytest
import torch

from vision_attention.data import ShapesCaptionsDataModule
from vision_attention.lit import CaptioningModule
from vision_attention.models import ShowAttendTell
from vision_attention.models.backbones import Backbone


@pytest.fixture(scope="session")
def trained():
    """A tiny captioner after 250 steps: captions of 1 to 3 objects, still imperfect, so
    that beam search often finds better captions than greedy (11 of 24 images when written)."""
    L.seed_everything(0)
    data = ShapesCaptionsDataModule(train_size=4000, val_size=16, test_size=24, batch_size=32, image_size=64)
    data.setup()
    model = ShowAttendTell(
        len(data.vocab), Backbone("tiny", grid=None, width=16), embed_dim=16, hidden_dim=48, attn_dim=16, dropout=0.0
    )
    trainer = L.Trainer(
        max_steps=250,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(CaptioningModule(model, lr=3e-3, doubly_stochastic=0.0), datamodule=data)
    model.eval()
    images = torch.stack([data.splits["test"][i]["image"] for i in range(24)])
    with torch.no_grad():
        return model, model.encode(images)
