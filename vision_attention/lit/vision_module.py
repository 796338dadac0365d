"""The base of the package's LightningModules: the model is a constructor argument, one
``model_step(batch, split)`` serves training, validation and test, the vocabulary is taken
from the data (and checked against the model and a resumed run), and every checkpoint
records what the inference classes need: its kind, the model's class and config, and the
vocabulary."""

from __future__ import annotations

import lightning as L
import torch

from ..files.checkpoints import KEY
from ..vocab import Vocabulary


class VisionModule(L.LightningModule):
    """Subclasses set ``kind`` (what :mod:`vision_attention.inference` loads the checkpoint
    as) and define ``model_step``; ``checkpoint_extra`` adds to what the checkpoint records."""

    kind = ""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.vocab: Vocabulary | None = None

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        vocab = getattr(datamodule, "vocab", None)
        if vocab is not None:
            if self.vocab is not None and self.vocab != vocab:
                raise ValueError("the data's vocabulary differs from the one this model was trained with")
            self.vocab = vocab
        expected = getattr(self.model, "config", {}).get("vocab_size")
        if self.vocab is not None and expected is not None and len(self.vocab) != expected:
            raise ValueError(f"the data's vocabulary has {len(self.vocab)} words but the model expects {expected}")

    def datamodule_hparams(self) -> tuple[str, dict] | None:
        """The data module's class name and arguments (without LightningCLI's own entries)."""
        try:
            datamodule = getattr(self.trainer, "datamodule", None)
        except RuntimeError:  # not attached to a trainer (a module saved by hand)
            return None
        if datamodule is None:
            return None
        return type(datamodule).__name__, {k: v for k, v in datamodule.hparams.items() if not k.startswith("_")}

    def checkpoint_extra(self) -> dict:
        return {}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[KEY] = {
            "kind": str(self.kind),  # the plain string: checkpoints hold no classes of ours
            "model_class": type(self.model).__name__,
            "model_config": self.model.config,
            "vocab": None if self.vocab is None else self.vocab.to_dict(),
            **self.checkpoint_extra(),
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        saved = checkpoint.get(KEY, {})
        if saved.get("vocab"):
            self.vocab = Vocabulary.from_dict(saved["vocab"])

    def model_step(self, batch: dict, split: str) -> torch.Tensor:
        raise NotImplementedError

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self.model_step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.model_step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.model_step(batch, "test")
