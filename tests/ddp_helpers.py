"""A callback for the DDP test: each rank saves its final parameters."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch


class SaveRankParameters(L.Callback):
    """Writes ``rank{R}.pt`` with the module's state (and the names of its parameters)
    when training ends.

    Args:
        folder: where to write.
    """

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().clone() for k, v in pl_module.state_dict().items()}
        state["__parameters__"] = [name for name, _ in pl_module.named_parameters()]
        torch.save(state, self.folder / f"rank{trainer.global_rank}.pt")
