"""Several step decoders as one: at every step the members' log-probabilities are averaged
(a renormalised geometric mean of their distributions), so greedy, sampling and beam search
decode an ensemble as they decode one model. Each member reads its own memory (its own
encoder's features); the attention map shown is the first member's.

Legend: B inputs (rows), V vocabulary, L attended positions of the first member.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from typing_extensions import Self


class Flat(tuple):
    """The members' memories or states side by side as one flat tuple of batch-first tensors,
    which decoding selects and repeats row-wise like any memory or state."""

    def __new__(cls, *tensors: Tensor) -> Self:
        return super().__new__(cls, tensors)


class EnsembleStep(NamedTuple):
    logits: Tensor  # (B, V) the mean log-probabilities
    alpha: Tensor  # (B, L) the first member's attention
    state: Flat


class Ensemble(nn.Module):
    """Step decoders that share a vocabulary, decoded together.

    Args:
        members: the decoders (e.g. :class:`ShowAttendTell` models).
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.beams_share_memory = all(getattr(m, "beams_share_memory", False) for m in members)

    def memory(self, encoded: list[Tensor]) -> Flat:
        """One input per member (its features (B, L_m, D_m)) -> the members' memories, flat."""
        if len(encoded) != len(self.members):
            raise ValueError(f"{len(encoded)} inputs for {len(self.members)} members")
        memories = [m.memory(x) for m, x in zip(self.members, encoded)]
        self._memory_types = [type(mem) for mem in memories]
        self._memory_sizes = [len(mem) for mem in memories]
        return Flat(*(t for mem in memories for t in mem))

    def _split(self, flat: Flat, sizes: list[int], types: list[type]) -> list[tuple]:
        parts, start = [], 0
        for size, kind in zip(sizes, types):
            parts.append(kind(*flat[start : start + size]))
            start += size
        return parts

    def init_state(self, memory: Flat) -> Flat:
        memories = self._split(memory, self._memory_sizes, self._memory_types)
        states = [m.init_state(mem) for m, mem in zip(self.members, memories)]
        self._state_types, self._state_sizes = [type(s) for s in states], [len(s) for s in states]
        return Flat(*(t for s in states for t in s))

    def step(self, tokens: Tensor, state: Flat, memory: Flat) -> EnsembleStep:
        memories = self._split(memory, self._memory_sizes, self._memory_types)
        states = self._split(state, self._state_sizes, self._state_types)
        outs = [m.step(tokens, s, mem) for m, s, mem in zip(self.members, states, memories)]
        log_probs = torch.stack([torch.log_softmax(o.logits.float(), -1) for o in outs]).mean(0)  # (B, V)
        return EnsembleStep(log_probs, outs[0].alpha, Flat(*(t for o in outs for t in o.state)))
