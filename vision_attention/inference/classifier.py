"""Using a trained sentence classifier: ``Classifier.from_checkpoint(path).classify(sentences)``,
each label with the attention paid to every word."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..kinds import Kind
from ..vocab import Vocabulary, tokenize
from .text_checkpoint import TextInference


@dataclass
class Classified:
    label: int
    probability: float  # of the label
    tokens: list[str]  # as the model saw them (unknown words as <unk>; the first max_len words)
    weights: list[float] | None  # attention per token; None for the last-state baseline
    words: int = 0  # in the sentence: more than len(tokens) when it was cut to the model's max_len


class Classifier(TextInference):
    """A trained classifier with its vocabulary: ``Classifier.from_checkpoint(path)``."""

    kind = Kind.CLASSIFIER

    @torch.no_grad()
    def classify(self, sentences: Sequence[str]) -> list[Classified]:
        max_len = self.model.config["max_len"]
        results = []
        for sentence in sentences:
            words = tokenize(sentence)
            ids = self.vocab.encode(words, add_special=False)[:max_len] or [Vocabulary.unk_id]
            tokens = torch.tensor([ids], device=self.device)
            out = self.model(tokens, torch.tensor([len(ids)], device=self.device))
            probs = torch.softmax(out.logits[0], 0)
            label = int(probs.argmax())
            weights = None if out.weights is None else out.weights[0, : len(ids)].tolist()  # the words' share
            results.append(Classified(label, float(probs[label]), self.vocab.decode(ids), weights, len(words)))
        return results
