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
