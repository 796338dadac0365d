"""A captioner really learns: a short CPU training on ShapesCaptions (one or two objects
per image, so that attention is needed) must caption held-out images and look at what
it names. A regression in the model, the loss, the data or the decoding fails this test.

Measured (2000 steps, seed 0, scored with an exponential moving average of the weights
as the demo is): 68-68.5% of captions correct, BLEU-4 0.84-0.85, 90-92% of object nouns
attended inside their box, with one or two threads; an untrained model scores about 0,
and a peak put at random lands in a box for under 10% of nouns. The last weights
themselves wander: at 1200 steps they gave 53% or 58.5% correct depending on the thread
count. This small captioner's run also depends on its seed: some seeds name both
objects from features at their edges and localise under 75% (the demo trains on 1-3
objects for that reason), so the seed is fixed."""

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import EMAWeightAveraging

from vision_attention.data import ShapesCaptionsDataModule
from vision_attention.lit import CaptioningModule
from vision_attention.models import ShowAttendTell
from vision_attention.models.backbones import Backbone

STEPS, REQUIRED_CORRECT, REQUIRED_BLEU4, REQUIRED_LOCALISATION = 2000, 0.55, 0.7, 0.75


@pytest.mark.slow  # 2000 training steps, about two minutes: `make test-slow`
def test_soft_attention_learns_to_caption_and_look_at_the_objects(tmp_path):
    L.seed_everything(0)
    data = ShapesCaptionsDataModule(
        train_size=20000, val_size=32, test_size=200, image_size=64, max_objects=2, batch_size=32
    )
    data.setup()
    model = ShowAttendTell(
        len(data.vocab),
        Backbone("tiny", grid=None, width=16, downsample=4),
        embed_dim=32,
        hidden_dim=64,
        attn_dim=32,
        dropout=0.1,
    )
    module = CaptioningModule(model, lr=3e-3, doubly_stochastic=0.0, beam_size=2, max_len=16)
    trainer = L.Trainer(
        max_steps=STEPS,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        default_root_dir=tmp_path,
        callbacks=[EMAWeightAveraging(decay=0.995)],
    )  # scored as the demo is: averaged weights
    trainer.fit(module, datamodule=data)
    metrics = trainer.test(module, datamodule=data, verbose=False)[0]
    print({k: round(v, 3) for k, v in metrics.items()})
    assert metrics["test/correct"] >= REQUIRED_CORRECT
    assert metrics["test/bleu4"] >= REQUIRED_BLEU4
    assert metrics["test/localisation"] >= REQUIRED_LOCALISATION
    assert torch.isfinite(torch.tensor(metrics["test/tf_loss"]))
