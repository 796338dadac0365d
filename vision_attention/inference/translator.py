"""Using a trained sequence-to-sequence model: ``Translator.from_checkpoint(path).translate(sources)``,
each translation with its source x target attention."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..data.caption_sets import pad_captions
from ..kinds import Kind
from ..models.decoding import beam_search
from ..resources import check_int
from .text_checkpoint import TextInference


@dataclass
class Translation:
    text: str
    source: list[str]  # source tokens (characters for the dates task)
    target: list[str]  # output tokens, then <end>
    alignment: torch.Tensor  # (len(target), len(source)) attention


class Translator(TextInference):
    """A trained seq2seq model with its vocabulary: ``Translator.from_checkpoint(path)``."""

    kind = Kind.TRANSLATOR

    @torch.no_grad()
    def translate(self, sources: Sequence[str], beam_size: int = 1, max_len: int = 20) -> list[Translation]:
        """Character-level sources (the dates task) -> their translations."""
        check_int("beam_size", beam_size, high=1000)
        check_int("max_len", max_len, high=1000)
        ids = [self.vocab.encode(list(s), add_special=False) for s in sources]
        batch, _ = pad_captions([torch.tensor(seq) for seq in ids])
        decoded = beam_search(self.model, batch.to(self.device), beam_size, max_len=max_len)
        results = []
        for i, source in enumerate(sources):
            length = int(decoded.lengths[i])
            words = self.vocab.decode(decoded.tokens[i, :length].tolist())  # stops before <end>
            target = words + ["<end>"] * (length - len(words))
            results.append(
                Translation("".join(words), list(source), target, decoded.alphas[i, :length, : len(source)].cpu())
            )
        return results
