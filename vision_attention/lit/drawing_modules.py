"""The LightningModules that train DRAW and alignDRAW on the negative variational bound, in nats per image."""

from __future__ import annotations

import torch

from ..kinds import Kind
from ..models.aligndraw import AlignDRAW, aligndraw_loss
from ..models.draw import DRAW, draw_loss, importance_weighted_nll
from .vision_module import VisionModule


class _BoundModule(VisionModule):
    """Adam on the bound; logs the bound, its two terms and ``{split}/nll``."""

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, betas=(self.hparams.beta1, 0.999))

    def bound(self, batch: dict):
        raise NotImplementedError

    def model_step(self, batch: dict, split: str) -> torch.Tensor:
        loss = self.bound(batch)
        size = len(batch["images"])
        values = {"loss": loss.loss, "reconstruction": loss.reconstruction.mean(), "kl": loss.kl.mean()}
        self.log_dict({f"{split}/{k}": v for k, v in values.items()}, prog_bar=split != "test", batch_size=size)
        if split != "train":
            self.log(f"{split}/nll", loss.loss, batch_size=size)
        return loss.loss


class DrawModule(_BoundModule):
    """Trains a :class:`DRAW` model.

    Args:
        model: the DRAW network.
        lr: Adam learning rate.
        beta1: Adam beta1 (the paper's MNIST setting uses 0.5).
        iwae_samples: with k > 1, test also reports the k-sample importance-weighted bound.
        compile_steps: compile the model's step with ``torch.compile`` (see
            :meth:`DRAW.compile_steps`): about 0.7x the time per training step on a CPU.
    """

    kind = Kind.DRAWER

    def __init__(
        self, model: DRAW, lr: float = 1e-3, beta1: float = 0.5, iwae_samples: int = 0, compile_steps: bool = False
    ) -> None:
        super().__init__(model.compile_steps() if compile_steps else model)
        self.save_hyperparameters(ignore=["model"])

    def bound(self, batch: dict):
        return draw_loss(self.model, self.model(batch["images"]), batch["images"])

    def test_step(self, batch: dict, batch_idx: int) -> None:
        super().test_step(batch, batch_idx)
        if self.hparams.iwae_samples > 1:
            iwae = importance_weighted_nll(self.model, batch["images"], self.hparams.iwae_samples).mean()
            self.log("test/nll_iwae", iwae, batch_size=len(batch["images"]))


class AlignDrawModule(_BoundModule):
    """Trains an :class:`AlignDRAW` model on captioned images (a caption data module's
    ``images``, ``captions`` and ``lengths``); the checkpoint keeps the vocabulary, so a
    :class:`~vision_attention.Drawer` can draw from text with it alone.

    Args:
        model: the alignDRAW network.
        lr: Adam learning rate.
        beta1: Adam beta1.
    """

    kind = Kind.ALIGNDRAWER

    def __init__(self, model: AlignDRAW, lr: float = 1e-3, beta1: float = 0.5) -> None:
        super().__init__(model)
        self.save_hyperparameters(ignore=["model"])

    def bound(self, batch: dict):
        x = batch["images"]
        return aligndraw_loss(self.model, self.model(x, batch["captions"], batch["lengths"]), x)
