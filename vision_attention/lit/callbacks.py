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
