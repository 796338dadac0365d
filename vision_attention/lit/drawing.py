"""The LightningModules that train DRAW and alignDRAW on the negative variational bound, in nats per image."""

from __future__ import annotations

import lightning as L
import torch

from ..checkpoints import KEY
from ..vocab import Vocabulary
from ..models.aligndraw import AlignDRAW, aligndraw_loss
from ..models.draw import DRAW, draw_loss, importance_weighted_nll


class DrawModule(L.LightningModule):
    """Trains a :class:`DRAW` model.

    Args:
        model: the DRAW network.
        lr: Adam learning rate.
        beta1: Adam beta1 (the paper's MNIST setting uses 0.5).
        iwae_samples: with k > 1, test also reports the k-sample importance-weighted bound.
        compile_steps: compile the model's step with ``torch.compile`` (see
            :meth:`DRAW.compile_steps`): about 0.7x the time per training step on a CPU.
    """

    def __init__(self, model: DRAW, lr: float = 1e-3, beta1: float = 0.5, iwae_samples: int = 0,
                 compile_steps: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["model"])
        self.model = model.compile_steps() if compile_steps else model

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, betas=(self.hparams.beta1, 0.999))

    def model_step(self, batch: dict) -> dict:
        x = batch["images"]
        loss = draw_loss(self.model, self.model(x), x)
        return {"loss": loss.loss, "reconstruction": loss.reconstruction.mean(), "kl": loss.kl.mean()}

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        result = self.model_step(batch)
        self.log_dict({f"train/{k}": v for k, v in result.items()}, prog_bar=True, batch_size=len(batch["images"]))
        return result["loss"]

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        result = self.model_step(batch)
        self.log_dict({f"val/{k}": v for k, v in result.items()}, prog_bar=True, batch_size=len(batch["images"]))
        self.log("val/nll", result["loss"], batch_size=len(batch["images"]))

    def test_step(self, batch: dict, batch_idx: int) -> None:
        result = self.model_step(batch)
        size = len(batch["images"])
        self.log_dict({f"test/{k}": v for k, v in result.items()}, batch_size=size)
        self.log("test/nll", result["loss"], batch_size=size)
        if self.hparams.iwae_samples > 1:
            iwae = importance_weighted_nll(self.model, batch["images"], self.hparams.iwae_samples).mean()
            self.log("test/nll_iwae", iwae, batch_size=size)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[KEY] = {"kind": "drawer", "model_config": self.model.config}


class AlignDrawModule(L.LightningModule):
    """Trains an :class:`AlignDRAW` model on captioned images (a caption data module's
    ``images``, ``captions`` and ``lengths``); the checkpoint keeps the vocabulary, so a
    :class:`~vision_attention.Drawer` can draw from text with it alone.

    Args:
        model: the alignDRAW network.
        lr: Adam learning rate.
        beta1: Adam beta1.
    """

    def __init__(self, model: AlignDRAW, lr: float = 1e-3, beta1: float = 0.5) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["model"])
        self.model = model
        self.vocab: Vocabulary | None = None

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None:
            datamodule.setup(stage)
            if self.vocab is not None and self.vocab != datamodule.vocab:
                raise ValueError("the data's vocabulary differs from the one this model was trained with")
            self.vocab = datamodule.vocab
        if self.vocab is not None and len(self.vocab) != self.model.config["vocab_size"]:
            raise ValueError(f"vocabulary has {len(self.vocab)} words but the model expects {self.model.config['vocab_size']}")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, betas=(self.hparams.beta1, 0.999))

    def _step(self, batch: dict, split: str) -> torch.Tensor:
        x = batch["images"]
        loss = aligndraw_loss(self.model, self.model(x, batch["captions"], batch["lengths"]), x)
        values = {"loss": loss.loss, "reconstruction": loss.reconstruction.mean(), "kl": loss.kl.mean()}
        self.log_dict({f"{split}/{k}": v for k, v in values.items()}, prog_bar=split != "test", batch_size=len(x))
        if split != "train":
            self.log(f"{split}/nll", loss.loss, batch_size=len(x))
        return loss.loss

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "test")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[KEY] = {"kind": "aligndrawer", "model_config": self.model.config,
                           "vocab": None if self.vocab is None else self.vocab.to_dict()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        saved = checkpoint.get(KEY, {})
        if saved.get("vocab"):
            self.vocab = Vocabulary.from_dict(saved["vocab"])
