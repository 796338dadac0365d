"""LightningModules for the text models: sentence classification and sequence to
sequence. Checkpoints carry the model's class, config and vocabulary, so that
:class:`~vision_attention.inference.Classifier` and :class:`~vision_attention.inference.Translator` can use them alone."""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F

from ..checkpoints import KEY
from ..vocab import Vocabulary
from ..models.decoding import beam_search, greedy
from ..models.seq2seq import sequence_loss


def _datamodule_vocab(module: L.LightningModule) -> Vocabulary | None:
    trainer = module._trainer
    datamodule = getattr(trainer, "datamodule", None) if trainer is not None else None
    return getattr(datamodule, "vocab", None)


class _TextModule(L.LightningModule):
    kind = ""

    def __init__(self, model: torch.nn.Module, lr: float) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["model"])
        self.model = model
        self.vocab: Vocabulary | None = None

    def setup(self, stage: str) -> None:
        vocab = _datamodule_vocab(self)
        if vocab is not None:
            if len(vocab) != self.model.config["vocab_size"]:
                raise ValueError(f"the data's vocabulary has {len(vocab)} entries, the model expects {self.model.config['vocab_size']}")
            self.vocab = vocab

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[KEY] = {"kind": self.kind, "model_class": type(self.model).__name__, "model_config": self.model.config,
                           "vocab": None if self.vocab is None else self.vocab.to_dict()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        saved = checkpoint.get(KEY, {})
        if saved.get("vocab"):
            self.vocab = Vocabulary.from_dict(saved["vocab"])


class ClassifierModule(_TextModule):
    """Trains a sentence classifier (``AttentionClassifier`` or ``TransformerClassifier``).

    Args:
        model: the classifier; called as ``model(tokens, lengths)``.
        lr: Adam learning rate.
        embedding_l2: adds ``embedding_l2 * sum(W_embedding ** 2)`` to the loss (the
            tutorial's Keras ``embeddings_regularizer=l2(0.001)``).
    """

    kind = "classifier"

    def __init__(self, model: torch.nn.Module, lr: float = 1e-3, embedding_l2: float = 0.0) -> None:
        super().__init__(model, lr)

    def _step(self, batch: dict, split: str) -> torch.Tensor:
        logits = self.model(batch["tokens"], batch["length"]).logits
        loss = F.cross_entropy(logits, batch["label"])
        accuracy = (logits.argmax(1) == batch["label"]).float().mean()
        size = len(batch["label"])
        self.log_dict({f"{split}/loss": loss, f"{split}/acc": accuracy}, prog_bar=split != "train", batch_size=size)
        return loss

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self._step(batch, "train")
        if self.hparams.embedding_l2:
            embedding = getattr(self.model, "embedding", None) or self.model.encoder.embedding
            loss = loss + self.hparams.embedding_l2 * embedding.weight.square().sum()
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "test")


def exact_match(tokens: torch.Tensor, target_out: torch.Tensor) -> torch.Tensor:
    """Per row: do the decoded tokens (B, T') equal the reference (B, T) up to and including <end>?"""
    width = max(tokens.shape[1], target_out.shape[1])
    pad = lambda x: F.pad(x, (0, width - x.shape[1]))  # noqa: E731  <pad> = 0 after <end> on both sides
    return (pad(tokens) == pad(target_out)).all(1)


class Seq2SeqModule(_TextModule):
    """Trains ``Seq2Seq`` or ``TransformerSeq2Seq`` with teacher forcing; validation decodes
    greedily and test also with beam search, reporting exact-match accuracy.

    Args:
        model: the sequence-to-sequence model.
        lr: Adam learning rate.
        beam_size: beam of the test decoding.
        max_len: most tokens decoded.
    """

    kind = "translator"

    def __init__(self, model: torch.nn.Module, lr: float = 1e-3, beam_size: int = 5, max_len: int = 20) -> None:
        super().__init__(model, lr)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        target = batch["target"]
        logits, _ = self.model(batch["source"], target[:, :-1])
        loss = sequence_loss(logits, target[:, 1:])
        self.log("train/loss", loss, prog_bar=True, batch_size=len(target))
        return loss

    def _evaluate(self, batch: dict, split: str, beam: bool) -> None:
        target, size = batch["target"], len(batch["target"])
        logits, _ = self.model(batch["source"], target[:, :-1])
        self.log(f"{split}/loss", sequence_loss(logits, target[:, 1:]), batch_size=size)
        decoded = greedy(self.model, batch["source"], max_len=self.hparams.max_len)
        self.log(f"{split}/exact", exact_match(decoded.tokens, target[:, 1:]).float().mean(), prog_bar=True, batch_size=size)
        if beam:
            decoded = beam_search(self.model, batch["source"], self.hparams.beam_size, max_len=self.hparams.max_len)
            self.log(f"{split}/exact_beam", exact_match(decoded.tokens, target[:, 1:]).float().mean(), batch_size=size)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, "val", beam=False)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, "test", beam=True)
