"""Small callbacks shared by the experiments."""

from __future__ import annotations

import time

import lightning as L


class ElapsedMinutes(L.Callback):
    """Logs ``time/minutes`` of training wall clock at each validation, for learning curves
    against time (nats vs minutes). The clock survives a resume from a checkpoint."""

    def __init__(self) -> None:
        self.before, self.start = 0.0, None

    def on_train_start(self, trainer, pl_module) -> None:
        self.start = time.monotonic()

    def minutes(self) -> float:
        return self.before + (0.0 if self.start is None else (time.monotonic() - self.start) / 60)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            pl_module.log("time/minutes", self.minutes())

    def state_dict(self) -> dict:
        return {"minutes": self.minutes()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.before = state_dict["minutes"]


class SaveLastOnStop(L.Callback):
    """Writes ``last.ckpt`` when training ends, so that a run stopped by ``max_time`` or
    ``max_steps`` between validations resumes where it stopped rather than at the last
    validation (ModelCheckpoint saves only there). Through the trainer's checkpoint IO,
    so the write is atomic."""

    def on_train_end(self, trainer, pl_module) -> None:
        from lightning.pytorch.callbacks import ModelCheckpoint

        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.save_last and callback.dirpath:
                path = f"{callback.dirpath}/{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"
                trainer.save_checkpoint(path)
                callback.last_model_path = path


def decay_factor(progress: float, share: float) -> float:
    """1 until ``1 - share`` of the budget is spent, then linear to 0 at its end."""
    return min(1.0, max(0.0, (1.0 - progress) / share))


class BudgetDecay(L.Callback):
    """Holds each learning rate, then lowers it linearly to zero over the last ``share`` of
    the run's budget: ``max_time`` or the trainer's step count (``max_steps`` or
    ``max_epochs``), whichever runs out first. A run cut by a wall-clock budget thus ends
    at a low rate instead of mid-noise, as budget-aware schedules do (Li, Yumer & Ramanan
    2020, "Budgeted Training: Rethinking Deep Neural Network Training Under Resource
    Constraints"; the hold-then-decay shape of Hägele et al. 2024, "Scaling Laws and
    Compute-Optimal Training Beyond Fixed Training Durations"). The budget's clock and
    step count survive a resume from a checkpoint, and so does the schedule. It sets the
    rates itself from each group's ``initial_lr``, so it replaces an ``lr_scheduler``
    rather than composing with one.

    Args:
        share: the part of the budget, in (0, 1], over which the rate falls to zero.
    """

    def __init__(self, share: float = 0.25) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError(f"BudgetDecay: share must be in (0, 1], got {share}")
        self.share = share

    @staticmethod
    def progress(trainer) -> float:
        """The spent part of the budget, in [0, 1]."""
        from lightning.pytorch.callbacks import Timer

        spent = 0.0
        steps = trainer.estimated_stepping_batches
        if steps != float("inf") and steps > 0:
            spent = trainer.global_step / steps
        for timer in (c for c in trainer.callbacks if isinstance(c, Timer)):
            remaining = timer.time_remaining()
            if remaining is not None:
                elapsed = timer.time_elapsed()
                spent = max(spent, elapsed / max(elapsed + remaining, 1e-9))
        return min(1.0, spent)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        factor = decay_factor(self.progress(trainer), self.share)
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor
        pl_module.log("train/lr_factor", factor, on_step=True, on_epoch=False)
