"""Trains a :class:`~vision_attention.models.scene_judge.SceneJudge` on the real images of a
caption data module, their scenes giving the labels."""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F

from ..checkpoints import KEY
from ..data.attributes import IGNORE, attribute_targets, judged_correct
from ..models.scene_judge import SceneJudge


class JudgeModule(L.LightningModule):
    """Cross-entropy summed over the attributes; ``val/acc`` is the share of images whose
    every attribute is right.

    Args:
        model: the judge network.
        lr: Adam learning rate, decayed to 0 along a cosine over the run's ``max_steps``
            (so the last checkpoint is a settled one).
    """

    def __init__(self, model: SceneJudge, lr: float = 2e-3) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["model"])
        self.model = model

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        steps = self.trainer.max_steps if self.trainer.max_steps and self.trainer.max_steps > 0 else None
        if steps is None:
            return optimizer
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def _step(self, batch: dict, split: str) -> torch.Tensor:
        targets = attribute_targets(self.model.schema, batch["scenes"], self.device)
        logits = self.model(batch["images"])
        loss = sum(F.cross_entropy(logits[n], t, ignore_index=IGNORE) for n, t in targets.items() if (t != IGNORE).any())
        accuracy = judged_correct(logits, targets).float().mean()
        self.log_dict({f"{split}/loss": loss, f"{split}/acc": accuracy}, prog_bar=True, batch_size=len(batch["images"]))
        return loss

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "test")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is not None:  # without the "_class_path" LightningCLI adds to hparams
            args = {k: v for k, v in datamodule.hparams.items() if not k.startswith("_")}
            data = {"class": type(datamodule).__name__, "init_args": args}
        else:
            data = None
        checkpoint[KEY] = {"kind": "judge", "model_config": self.model.config, "data": data}
