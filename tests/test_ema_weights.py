"""EMAWeights: validation, checkpoints and the end of training use the moving average of the
weights, computed here by hand from the weights after each step."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from vision_attention.lit import EMAWeights


class TinyRegression(L.LightningModule):
    """A linear fit that records its weights after every optimizer step and at validation."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(3, 1)
        self.after_step: list[torch.Tensor] = []
        self.validated: list[torch.Tensor] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        self.after_step.append(self.layer.weight.detach().clone())

    def validation_step(self, batch, batch_idx):
        if batch_idx == 0:
            self.validated.append(self.layer.weight.detach().clone())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.3)


def loader(batch_size: int = 4) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    return DataLoader(
        TensorDataset(torch.randn(32, 3, generator=g), torch.randn(32, 1, generator=g)), batch_size=batch_size
    )


def reference_average(weights: list[torch.Tensor], decay: float) -> list[torch.Tensor]:
    """The average after each step: a copy at first, then d = min(decay, (1 + n) / (10 + n))."""
    averages = [weights[0].clone()]
    for n, w in enumerate(weights[1:], start=1):
        d = min(decay, (1 + n) / (10 + n))
        averages.append(d * averages[-1] + (1 - d) * w)
    return averages


def test_validation_checkpoints_and_the_end_use_the_average(tmp_path):
    torch.manual_seed(0)
    model = TinyRegression()
    trainer = L.Trainer(
        max_steps=12,
        val_check_interval=4,
        callbacks=[EMAWeights(decay=0.5)],
        default_root_dir=tmp_path,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        num_sanity_val_steps=0,
        limit_val_batches=1,
    )
    trainer.fit(model, loader(), loader())
    expected = reference_average(model.after_step, decay=0.5)
    assert not torch.allclose(expected[-1], model.after_step[-1])  # the average is not the last weights
    # validation at steps 4, 8 and 12 saw the average, then training went on from the raw weights
    torch.testing.assert_close(torch.stack(model.validated), torch.stack([expected[3], expected[7], expected[11]]))
    torch.testing.assert_close(model.layer.weight, expected[-1])  # training ends on the average
    path = tmp_path / "ema.ckpt"
    trainer.save_checkpoint(path)
    saved = torch.load(path, weights_only=True)["state_dict"]["layer.weight"]
    torch.testing.assert_close(saved, expected[-1])


def fit(tmp_path, max_steps: int, ckpt_path=None) -> TinyRegression:
    torch.manual_seed(0)
    model = TinyRegression()
    L.Trainer(
        max_steps=max_steps,
        callbacks=[EMAWeights(decay=0.5)],
        default_root_dir=tmp_path,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        limit_val_batches=0,
    ).fit(model, loader(batch_size=32), ckpt_path=ckpt_path)  # every step the same batch
    return model


def test_a_checkpoint_holds_the_average_and_a_resume_continues_both(tmp_path):
    whole = fit(tmp_path / "whole", max_steps=16)
    half = fit(tmp_path / "half", max_steps=8)
    checkpoint_path = next((tmp_path / "half").rglob("*.ckpt"))
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    torch.testing.assert_close(checkpoint["state_dict"]["layer.weight"], reference_average(half.after_step, 0.5)[-1])
    torch.testing.assert_close(checkpoint["current_model_state"]["layer.weight"], half.after_step[-1])
    resumed = fit(tmp_path / "resumed", max_steps=16, ckpt_path=checkpoint_path)
    # the raw weights went on from where they were, and so did the average
    torch.testing.assert_close(torch.stack(resumed.after_step), torch.stack(whole.after_step[8:]))
    torch.testing.assert_close(resumed.layer.weight, whole.layer.weight)


def test_the_decay_is_checked():
    for bad in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="decay must be in"):
            EMAWeights(decay=bad)
