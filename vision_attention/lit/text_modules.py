"""LightningModules for the text models: sentence classification and sequence to
sequence. Checkpoints carry the model's class, config and vocabulary, so that
:class:`~vision_attention.inference.Classifier` and :class:`~vision_attention.inference.Translator` can use them
alone."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..kinds import Kind
from ..models.decoding import beam_search, greedy
from ..models.seq2seq import sequence_loss
from .vision_module import VisionModule


class _TextModule(VisionModule):
    def __init__(self, model: torch.nn.Module, lr: float) -> None:
        super().__init__(model)
        self.save_hyperparameters(ignore=["model"])

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class ClassifierModule(_TextModule):
    """Trains a sentence classifier (``AttentionClassifier`` or ``TransformerClassifier``).

    Args:
        model: the classifier; called as ``model(tokens, lengths)``.
        lr: Adam learning rate.
        embedding_l2: adds ``embedding_l2 * sum(W_embedding ** 2)`` to the loss (the
            tutorial's Keras ``embeddings_regularizer=l2(0.001)``).
    """

    kind = Kind.CLASSIFIER

    def __init__(self, model: torch.nn.Module, lr: float = 1e-3, embedding_l2: float = 0.0) -> None:
        super().__init__(model, lr)

    def model_step(self, batch: dict, split: str) -> torch.Tensor:
        logits = self.model(batch["tokens"], batch["length"]).logits
        loss = F.cross_entropy(logits, batch["label"])
        accuracy = (logits.argmax(1) == batch["label"]).float().mean()
        size = len(batch["label"])
        self.log_dict({f"{split}/loss": loss, f"{split}/acc": accuracy}, prog_bar=split != "train", batch_size=size)
        if split == "train" and self.hparams.embedding_l2:
            embedding = getattr(self.model, "embedding", None) or self.model.encoder.embedding
            loss = loss + self.hparams.embedding_l2 * embedding.weight.square().sum()
        return loss


def exact_match(tokens: torch.Tensor, target_out: torch.Tensor) -> torch.Tensor:
    """Per row: do the decoded tokens (B, T') equal the reference (B, T) up to and including <end>?"""
    width = max(tokens.shape[1], target_out.shape[1])
    pad = lambda x: F.pad(x, (0, width - x.shape[1]))
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

    kind = Kind.TRANSLATOR

    def __init__(self, model: torch.nn.Module, lr: float = 1e-3, beam_size: int = 5, max_len: int = 20) -> None:
        super().__init__(model, lr)

    def model_step(self, batch: dict, split: str) -> torch.Tensor:
        """Teacher-forced loss; evaluation also decodes greedily, and test with beam search."""
        target, size = batch["target"], len(batch["target"])
        logits, _ = self.model(batch["source"], target[:, :-1])
        loss = sequence_loss(logits, target[:, 1:])
        self.log(f"{split}/loss", loss, prog_bar=split == "train", batch_size=size)
        if split == "train":
            return loss
        decoded = greedy(self.model, batch["source"], max_len=self.hparams.max_len)
        self.log(
            f"{split}/exact", exact_match(decoded.tokens, target[:, 1:]).float().mean(), prog_bar=True, batch_size=size
        )
        if split == "test":
            decoded = beam_search(self.model, batch["source"], self.hparams.beam_size, max_len=self.hparams.max_len)
            self.log(f"{split}/exact_beam", exact_match(decoded.tokens, target[:, 1:]).float().mean(), batch_size=size)
        return loss
