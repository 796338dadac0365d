"""BudgetDecay: the learning rate holds, then falls linearly to zero over the budget's end."""

from __future__ import annotations

from types import SimpleNamespace

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Timer
from torch.utils.data import DataLoader, TensorDataset

from vision_attention.lit import BudgetDecay
from vision_attention.lit.callbacks import decay_factor


class TinyRegression(L.LightningModule):
    """A linear fit that records the learning rate of every optimizer step."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(3, 1)
        self.lrs: list[float] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def on_before_optimizer_step(self, optimizer) -> None:
        self.lrs.append(optimizer.param_groups[0]["lr"])

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=0.1)


def loader() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    return DataLoader(TensorDataset(torch.randn(32, 3, generator=g), torch.randn(32, 1, generator=g)), batch_size=4)


def trainer(tmp_path, max_steps: int, callbacks=()) -> L.Trainer:
    return L.Trainer(
        max_steps=max_steps,
        callbacks=[BudgetDecay(share=0.5), *callbacks],
        default_root_dir=tmp_path,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )


def test_the_factor_holds_then_falls_linearly_to_zero():
    assert [decay_factor(p, 0.25) for p in (0.0, 0.5, 0.75, 0.875, 1.0)] == [1.0, 1.0, 1.0, 0.5, 0.0]
    assert decay_factor(0.5, 1.0) == 0.5  # share 1: linear decay over the whole budget
    with pytest.raises(ValueError, match="share"):
        BudgetDecay(share=0.0)


def test_the_rate_follows_the_step_budget(tmp_path):
    model = TinyRegression()
    trainer(tmp_path, max_steps=8).fit(model, loader())
    # step k starts with k/8 of the budget spent; the last half falls to zero
    assert model.lrs == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.1, 0.075, 0.05, 0.025])


def test_the_time_budget_counts_when_it_runs_out_first():
    timer = Timer(duration="00:00:10:00")
    timer.time_elapsed = lambda stage="train": 480.0  # 8 of 10 minutes spent
    timer.time_remaining = lambda stage="train": 120.0
    spent = BudgetDecay.progress(SimpleNamespace(estimated_stepping_batches=100, global_step=10, callbacks=[timer]))
    assert spent == pytest.approx(0.8)
    assert decay_factor(spent, 0.4) == pytest.approx(0.5)
    steps_only = BudgetDecay.progress(
        SimpleNamespace(estimated_stepping_batches=100, global_step=10, callbacks=[timer]), clock=False
    )
    assert steps_only == pytest.approx(0.1)  # the clock stops the run but does not set the schedule


def test_a_resumed_run_continues_the_schedule(tmp_path):
    whole = TinyRegression()
    trainer(tmp_path / "whole", max_steps=8).fit(whole, loader())

    class StopAfterFive(L.Callback):
        def on_train_batch_end(self, trainer, *args) -> None:
            trainer.should_stop = trainer.global_step == 5

    first, second = TinyRegression(), TinyRegression()
    cut = trainer(tmp_path / "cut", max_steps=8, callbacks=[StopAfterFive()])
    cut.fit(first, loader())
    cut.save_checkpoint(tmp_path / "cut.ckpt")
    trainer(tmp_path / "cut", max_steps=8).fit(second, loader(), ckpt_path=tmp_path / "cut.ckpt")
    assert first.lrs + second.lrs == pytest.approx(whole.lrs)
