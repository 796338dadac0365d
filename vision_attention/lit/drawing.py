"""The LightningModule that trains DRAW on the negative variational bound, in nats per image."""

from __future__ import annotations

import lightning as L
import torch

from ..checkpoints import KEY
from ..models.draw import DRAW, draw_loss, importance_weighted_nll


class DrawModule(L.LightningModule):
    """Trains a :class:`DRAW` model.

    Args:
        model: the DRAW network.
        lr: Adam learning rate.
        beta1: Adam beta1 (the paper's MNIST setting uses 0.5).
        iwae_samples: with k > 1, test also reports the k-sample importance-weighted bound.
    """

    def __init__(self, model: DRAW, lr: float = 1e-3, beta1: float = 0.5, iwae_samples: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["model"])
        self.model = model

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, betas=(self.hparams.beta1, 0.999))

    def model_step(self, batch: dict) -> dict:
        x = batch["image"]
        loss = draw_loss(self.model, self.model(x), x)
        return {"loss": loss.loss, "reconstruction": loss.reconstruction.mean(), "kl": loss.kl.mean()}

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        result = self.model_step(batch)
        self.log_dict({f"train/{k}": v for k, v in result.items()}, prog_bar=True, batch_size=len(batch["image"]))
        return result["loss"]

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        result = self.model_step(batch)
        self.log_dict({f"val/{k}": v for k, v in result.items()}, prog_bar=True, batch_size=len(batch["image"]))
        self.log("val/nll", result["loss"], batch_size=len(batch["image"]))

    def test_step(self, batch: dict, batch_idx: int) -> None:
        result = self.model_step(batch)
        size = len(batch["image"])
        self.log_dict({f"test/{k}": v for k, v in result.items()}, batch_size=size)
        self.log("test/nll", result["loss"], batch_size=size)
        if self.hparams.iwae_samples > 1:
            iwae = importance_weighted_nll(self.model, batch["image"], self.hparams.iwae_samples).mean()
            self.log("test/nll_iwae", iwae, batch_size=size)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[KEY] = {"kind": "drawer", "model_config": self.model.config}
