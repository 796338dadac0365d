"""Trains a :class:`~vision_attention.models.scene_judge.SceneJudge` on the real images of a
caption data module, their scenes giving the labels."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.attributes import IGNORE, attribute_targets, judged_correct
from ..kinds import Kind
from ..models.scene_judge import SceneJudge
from .vision_module import VisionModule


class JudgeModule(VisionModule):
    """Cross-entropy summed over the attributes; ``val/acc`` is the share of images whose
    every attribute is right. The checkpoint keeps the data settings, so that a
    :class:`~vision_attention.inference.Judge` can make the scenes it scores.

    Args:
        model: the judge network.
        lr: Adam learning rate, decayed to 0 along a cosine over the run's ``max_steps``
            (so the last checkpoint is a settled one).
    """

    kind = Kind.JUDGE

    def __init__(self, model: SceneJudge, lr: float = 2e-3) -> None:
        super().__init__(model)
        self.save_hyperparameters(ignore=["model"])

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        steps = self.trainer.max_steps if self.trainer.max_steps and self.trainer.max_steps > 0 else None
        if steps is None:
            return optimizer
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def model_step(self, batch: dict, split: str) -> torch.Tensor:
        targets = attribute_targets(self.model.schema, batch["scenes"], self.device)
        logits = self.model(batch["images"])
        loss = sum(
            F.cross_entropy(logits[n], t, ignore_index=IGNORE) for n, t in targets.items() if (t != IGNORE).any()
        )
        accuracy = judged_correct(logits, targets).float().mean()
        self.log_dict({f"{split}/loss": loss, f"{split}/acc": accuracy}, prog_bar=True, batch_size=len(batch["images"]))
        return loss

    def checkpoint_extra(self) -> dict:
        data = self.datamodule_hparams()
        return {"data": None if data is None else {"class": data[0], "init_args": data[1]}}
