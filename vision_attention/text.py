"""Using a trained text model: ``TextModel.from_checkpoint(path)`` then ``.classify(sentences)``
for a classifier or ``.translate(sources)`` for a sequence-to-sequence model, each with
the attention it paid (per-token weights; the source x target alignment)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoints import CheckpointError, load_checkpoint, model_weights
from .data.captioning import pad_captions
from .vocab import Vocabulary, tokenize
from .models.decoding import beam_search
from .models import build_text_model
from .resources import check_int


@dataclass
class Classified:
    label: int
    probability: float  # of the label
    tokens: list[str]  # as the model saw them (unknown words as <unk>)
    weights: list[float] | None  # attention per token; None for the last-state baseline


@dataclass
class Translation:
    text: str
    source: list[str]  # source tokens (characters for the dates task)
    target: list[str]  # output tokens, then <end>
    alignment: torch.Tensor  # (len(target), len(source)) attention


class TextModel:
    """A trained classifier or translator with its vocabulary.

    Args:
        model: the network.
        vocab: its vocabulary.
        kind: "classifier" or "translator".
        device: where to run.
    """

    def __init__(self, model: torch.nn.Module, vocab: Vocabulary, kind: str, device: str | torch.device = "cpu") -> None:
        self.model, self.vocab, self.kind = model.eval().to(device), vocab, kind
        self.device = torch.device(device)

    @classmethod
    def from_checkpoint(cls, path: str | Path, map_location: str | torch.device = "cpu") -> "TextModel":
        checkpoint, info = load_checkpoint(path, map_location, ("classifier", "translator"), "a text model")
        if not info.get("vocab"):
            raise CheckpointError(f"{path}: the checkpoint has no vocabulary")
        model = build_text_model(info["model_class"], info["model_config"])
        model.load_state_dict(model_weights(checkpoint))
        return cls(model, Vocabulary.from_dict(info["vocab"]), info["kind"], map_location)

    def _require(self, kind: str) -> None:
        if self.kind != kind:
            raise ValueError(f"this is a {self.kind}, not a {kind}")

    @torch.no_grad()
    def classify(self, sentences: Sequence[str]) -> list[Classified]:
        self._require("classifier")
        max_len = self.model.config["max_len"]
        results = []
        for sentence in sentences:
            ids = self.vocab.encode(tokenize(sentence), add_special=False)[:max_len] or [Vocabulary.unk_id]
            tokens = torch.tensor([ids], device=self.device)
            out = self.model(tokens, torch.tensor([len(ids)], device=self.device))
            probs = torch.softmax(out.logits[0], 0)
            label = int(probs.argmax())
            weights = None if out.weights is None else out.weights[0, : len(ids)].tolist()  # the words' share
            results.append(Classified(label, float(probs[label]), self.vocab.decode(ids), weights))
        return results

    @torch.no_grad()
    def translate(self, sources: Sequence[str], beam_size: int = 1, max_len: int = 20) -> list[Translation]:
        check_int("beam_size", beam_size, high=1000), check_int("max_len", max_len, high=1000)
        """Character-level sources (the dates task) -> their translations."""
        self._require("translator")
        ids = [self.vocab.encode(list(s), add_special=False) for s in sources]
        batch, _ = pad_captions([torch.tensor(seq) for seq in ids])
        decoded = beam_search(self.model, batch.to(self.device), beam_size, max_len=max_len)
        results = []
        for i, source in enumerate(sources):
            length = int(decoded.lengths[i])
            words = self.vocab.decode(decoded.tokens[i, :length].tolist())  # stops before <end>
            target = words + ["<end>"] * (length - len(words))
            results.append(Translation("".join(words), list(source), target, decoded.alphas[i, :length, : len(source)].cpu()))
        return results
