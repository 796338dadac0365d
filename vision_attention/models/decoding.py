"""Decoding for any step-wise decoder: greedy, sampling with temperature, and beam
search batched across inputs and beams (no Python loop over inputs).

A decoder provides ``memory(encoded) -> Memory``, ``init_state(memory) -> State`` and
``step(tokens, state, memory) -> out`` with ``out.logits`` (N, V), ``out.alpha`` (N, L)
and ``out.state``; memories and states are tuples of tensors with the batch first.
Every function returns :class:`Decoded`: the words after <start> up to and including
<end> (then <pad>), their log-probability, and the attention map of every step.
No decoder ever emits a ``suppressed`` id (by default <pad>, <start> and <unk>: a user never
sees "<unk>"): those words are never chosen, while every score stays the model's own
log-probability, as a logits processor that bans words does in other toolkits.

Legend: B inputs, K beams, N = B*K rows, T steps, V vocabulary, L attended positions.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch
from torch import Tensor

from ..vocab import END_ID, PAD_ID, START_ID, UNK_ID

SUPPRESSED = (PAD_ID, START_ID, UNK_ID)  # never a word of a caption


class Decoded(NamedTuple):
    tokens: Tensor  # (B, T) long, ends with <end> (if produced) then <pad>
    log_prob: Tensor  # (B,) sum of log p of the tokens (before length normalisation)
    alphas: Tensor  # (B, T, L) attention at every step, 0 after <end>
    lengths: Tensor  # (B,) tokens up to and including <end>
    score: Tensor  # (B,) the ranking score: log_prob, length-normalised for beam search


class StepDecoder(Protocol):
    def memory(self, encoded: Tensor) -> tuple: ...

    def init_state(self, memory: tuple) -> tuple: ...

    def step(self, tokens: Tensor, state: tuple, memory: tuple): ...

    # Optional: ``beams_share_memory = True`` says ``step`` accepts a state of K x B rows
    # (K consecutive beams per input) with the memory of the B inputs, so beam search
    # need not copy the memory K times.


def _select(structure: tuple, index: Tensor) -> tuple:
    return type(structure)(*(t.index_select(0, index) for t in structure))


def _expand(structure: tuple, k: int) -> tuple:
    return type(structure)(*(t.repeat_interleave(k, dim=0) for t in structure))


def suppress(logits: Tensor, suppressed: tuple[int, ...]) -> Tensor:
    """``logits`` (N, V) with the suppressed ids at -inf."""
    if not suppressed:
        return logits
    return logits.index_fill(-1, torch.tensor(suppressed, device=logits.device), float("-inf"))


def _sequential(
    model: StepDecoder, encoded: Tensor, start_id: int, end_id: int, max_len: int, pick, suppressed: tuple[int, ...]
) -> Decoded:
    memory = model.memory(encoded)
    state = model.init_state(memory)
    batch, device = memory[0].shape[0], memory[0].device  # what encoded holds is the model's business
    tokens = torch.full((batch,), start_id, dtype=torch.long, device=device)
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    log_prob = torch.zeros(batch, device=device)
    words, alphas = [], []
    for _ in range(max_len):
        out = model.step(tokens, state, memory)
        log_probs = torch.log_softmax(out.logits.float(), dim=-1)  # (B, V)
        tokens = pick(suppress(out.logits, suppressed)).masked_fill(finished, 0)  # (B,) <pad> after <end>
        log_prob = log_prob + log_probs.gather(1, tokens[:, None]).squeeze(1).masked_fill(finished, 0.0)
        alphas.append(out.alpha.masked_fill(finished[:, None], 0.0))
        words.append(tokens)
        state = out.state
        finished = finished | (tokens == end_id)
        if bool(finished.all()):
            break
    tokens = torch.stack(words, 1)  # (B, T)
    lengths = (tokens != 0).sum(1)
    return Decoded(tokens, log_prob, torch.stack(alphas, 1), lengths, log_prob)


@torch.no_grad()
def greedy(
    model: StepDecoder,
    encoded: Tensor,
    start_id: int = START_ID,
    end_id: int = END_ID,
    max_len: int = 30,
    suppressed: tuple[int, ...] = SUPPRESSED,
) -> Decoded:
    """The most likely word at every step."""
    return _sequential(model, encoded, start_id, end_id, max_len, lambda logits: logits.argmax(-1), suppressed)


@torch.no_grad()
def sample(
    model: StepDecoder,
    encoded: Tensor,
    temperature: float = 1.0,
    start_id: int = START_ID,
    end_id: int = END_ID,
    max_len: int = 30,
    generator: torch.Generator | None = None,
    suppressed: tuple[int, ...] = SUPPRESSED,
) -> Decoded:
    """Words drawn from softmax(logits / temperature) over the words not suppressed;
    ``log_prob`` is under the model (temperature 1)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")

    def pick(logits: Tensor) -> Tensor:
        probs = torch.softmax(logits.float() / temperature, dim=-1)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)

    return _sequential(model, encoded, start_id, end_id, max_len, pick, suppressed)


@torch.no_grad()
def beam_search(
    model: StepDecoder,
    encoded: Tensor,
    beam_size: int = 5,
    length_penalty: float = 0.0,
    start_id: int = START_ID,
    end_id: int = END_ID,
    pad_id: int = 0,
    max_len: int = 30,
    suppressed: tuple[int, ...] = SUPPRESSED,
) -> Decoded:
    """Beam search over all inputs at once.

    Finished beams stay in the beam with their score frozen (they extend only by <pad>
    at no cost) and compete with live ones; the search stops when every beam of every
    input has finished or after ``max_len`` steps. The best beam maximises
    log_prob / length ** length_penalty (0: raw log-probability).

    Args:
        model: the step decoder.
        encoded: what ``model.memory`` takes for B inputs (e.g. image features (B, L, D); an
            ensemble's, one tensor per member).
        beam_size: K.
        length_penalty: exponent of the length normalisation of the final choice.
        start_id: <start>.
        end_id: <end>.
        pad_id: <pad>.
        max_len: most words generated.
        suppressed: ids never chosen (their scores stay out of every beam).
    """
    memory = model.memory(encoded)
    batch, k, device = memory[0].shape[0], beam_size, memory[0].device
    if getattr(model, "beams_share_memory", False):  # its attention reads one memory for all K beams
        state = _expand(model.init_state(memory), k)
    else:
        memory = _expand(memory, k)
        state = model.init_state(memory)
    tokens = torch.full((batch * k,), start_id, dtype=torch.long, device=device)
    scores = torch.full((batch, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start equal: expand only the first
    finished = torch.zeros(batch, k, dtype=torch.bool, device=device)
    offsets = (torch.arange(batch, device=device) * k).unsqueeze(1)  # (B, 1)
    seqs = torch.zeros(batch * k, 0, dtype=torch.long, device=device)
    alphas = None
    for _ in range(max_len):
        out = model.step(tokens, state, memory)
        log_probs = suppress(torch.log_softmax(out.logits.float(), dim=-1), suppressed).view(batch, k, -1)  # (B, K, V)
        vocab = log_probs.shape[-1]
        frozen = torch.full_like(log_probs[0, 0], float("-inf"))
        frozen[pad_id] = 0.0
        log_probs = torch.where(finished.unsqueeze(-1), frozen, log_probs)
        top, index = (scores.unsqueeze(-1) + log_probs).view(batch, k * vocab).topk(k, dim=1)  # (B, K)
        parent, word = index // vocab, index % vocab  # (B, K)
        rows = (offsets + parent).view(-1)  # (N,)
        was_finished = finished.gather(1, parent)  # (B, K)
        alpha = out.alpha.index_select(0, rows).masked_fill(was_finished.view(-1, 1), 0.0)  # (N, L)
        alphas = (
            alpha.unsqueeze(1) if alphas is None else torch.cat([alphas.index_select(0, rows), alpha.unsqueeze(1)], 1)
        )
        seqs = torch.cat([seqs.index_select(0, rows), word.view(-1, 1)], 1)  # (N, t)
        state = _select(out.state, rows)
        finished = was_finished | (word == end_id)
        scores, tokens = top, word.view(-1)
        if bool(finished.all()):
            break
    lengths = (seqs != pad_id).sum(1).view(batch, k)  # (B, K)
    ranking = scores / lengths.clamp_min(1).float() ** length_penalty if length_penalty else scores
    best = ranking.argmax(1)  # (B,)
    chosen = offsets.squeeze(1) + best  # (B,)
    pick = lambda x: x.gather(1, best[:, None]).squeeze(1)
    return Decoded(seqs[chosen], pick(scores), alphas[chosen], pick(lengths), pick(ranking))
