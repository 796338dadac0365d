"""Small callbacks shared by the experiments."""

from __future__ import annotations

import time

import lightning as L
from lightning.pytorch.callbacks import WeightAveraging
from torch import Tensor


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
    """Keeps ``last.ckpt`` fresh enough that a stop loses at most a few minutes of work. It
    is written when training ends (``max_time`` or ``max_steps`` between validations, where
    ModelCheckpoint would not), every ``every_minutes`` of training, and at the end of the
    step in progress when SIGTERM (``timeout``, SLURM, ``docker stop``) or SIGINT (Ctrl+C)
    arrives; the run then exits with status 128 + the signal's number, so that scripts see
    it was stopped. A second Ctrl+C stops at once. Written through the trainer's checkpoint
    IO, so atomically. Timed saves and signals are handled in single-process runs; under
    DDP, ModelCheckpoint's saves and Lightning's own signal handling stay.

    Args:
        every_minutes: minutes of training between saves (None: only on stop and signals).
    """

    def __init__(self, every_minutes: float | None = 5.0) -> None:
        if every_minutes is not None and every_minutes <= 0:
            raise ValueError(f"SaveLastOnStop: every_minutes must be positive, got {every_minutes}")
        self.every_minutes = every_minutes
        self.signal: int | None = None
        self._saved_at = time.monotonic()
        self._previous_sigint = None

    def on_train_start(self, trainer, pl_module) -> None:
        import signal
        import threading

        self.signal, self._saved_at = None, time.monotonic()
        if trainer.world_size == 1 and threading.current_thread() is threading.main_thread():
            self._previous_sigint = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum, frame) -> None:
        if self.signal is not None:  # the second Ctrl+C
            self._restore_sigint()
            raise KeyboardInterrupt
        self.signal = signum
        print("\nCtrl+C: saving last.ckpt after this step (press again to stop at once)", flush=True)

    def _restore_sigint(self) -> None:
        import signal

        if self._previous_sigint is not None:
            signal.signal(signal.SIGINT, self._previous_sigint)
            self._previous_sigint = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        import signal

        received = self.signal or (signal.SIGTERM if trainer.received_sigterm and trainer.world_size == 1 else None)
        if received:
            path = self.save(trainer)
            name = signal.Signals(received).name
            print(f"{name}: saved {path} at step {trainer.global_step}; resume with --ckpt_path last", flush=True)
            raise SystemExit(128 + received)
        due = self.every_minutes and time.monotonic() - self._saved_at >= 60 * self.every_minutes
        if due and trainer.world_size == 1:  # under DDP each rank's clock differs: no unmatched saves
            self.save(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        self._restore_sigint()
        self.save(trainer)

    def on_exception(self, trainer, pl_module, exception) -> None:
        from lightning.pytorch.utilities.exceptions import SIGTERMException

        self._restore_sigint()
        # SIGTERM during validation: Lightning stops there, between two training steps.
        if isinstance(exception, SIGTERMException) and trainer.state.fn == "fit" and trainer.world_size == 1:
            print(
                f"SIGTERM: saved {self.save(trainer)} at step {trainer.global_step}; resume with --ckpt_path last",
                flush=True,
            )

    def save(self, trainer) -> str | None:
        """Write ``last.ckpt`` beside the ModelCheckpoint's files (the one that keeps a last)."""
        from lightning.pytorch.callbacks import ModelCheckpoint

        callbacks = [c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.dirpath]
        callbacks.sort(key=lambda c: not c.save_last)
        if not callbacks:
            return None
        callback = callbacks[0]
        path = f"{callback.dirpath}/{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"
        trainer.save_checkpoint(path)
        if callback.save_last:
            callback.last_model_path = path
        self._saved_at = time.monotonic()
        return path


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
        clock: count ``max_time`` as budget. False: steps alone set the schedule, so that
            a slower machine trains the same model (``max_time`` then only stops a run).
    """

    def __init__(self, share: float = 0.25, clock: bool = True) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError(f"BudgetDecay: share must be in (0, 1], got {share}")
        self.share, self.clock = share, clock

    @staticmethod
    def progress(trainer, clock: bool = True) -> float:
        """The spent part of the budget, in [0, 1]."""
        from lightning.pytorch.callbacks import Timer

        spent = 0.0
        steps = trainer.estimated_stepping_batches
        if steps != float("inf") and steps > 0:
            spent = trainer.global_step / steps
        for timer in (c for c in trainer.callbacks if clock and isinstance(c, Timer)):
            remaining = timer.time_remaining()
            if remaining is not None:
                elapsed = timer.time_elapsed()
                spent = max(spent, elapsed / max(elapsed + remaining, 1e-9))
        return min(1.0, spent)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        factor = decay_factor(self.progress(trainer, self.clock), self.share)
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor
        pl_module.log("train/lr_factor", factor, on_step=True, on_epoch=False)


class EMAWeights(WeightAveraging):
    """An exponential moving average of the weights (Polyak averaging), updated after each
    optimizer step: ``avg = d * avg + (1 - d) * w`` with ``d = min(decay, (1 + n) / (10 + n))``
    after ``n`` updates, TensorFlow's ``ExponentialMovingAverage`` rule. Lightning's own
    ``EMAWeightAveraging`` keeps ``decay`` fixed from the first step, so at decay 0.999 the
    initial weights still carry 0.999 ** 375 = 69% of the average at a validation after 375
    steps, and 10% after 2250: early validations, and the checkpoint chosen by them, would
    judge a blend with the untrained model. Lightning's ``WeightAveraging`` swaps the average
    in for validation, saves it as the checkpoint's weights (the raw weights ride along, so a
    resume continues both), and keeps it at the end of training.

    Args:
        decay: in (0, 1); 0.999 averages over about the last thousand steps.
    """

    def __init__(self, decay: float = 0.999) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMAWeights: decay must be in (0, 1), got {decay}")
        super().__init__(multi_avg_fn=self._update)
        self.decay = decay

    def _update(self, averaged: list[Tensor], current: list[Tensor], num_averaged: Tensor) -> None:
        n = int(num_averaged)
        decay = min(self.decay, (1 + n) / (10 + n))
        for avg, now in zip(averaged, current):
            if avg.is_floating_point():
                avg.lerp_(now, 1.0 - decay)
            else:  # integer buffers (batch-norm step counts): the current value
                avg.copy_(now)
