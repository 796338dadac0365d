"""Constrained beam search (Anderson, Fernando, Johnson & Gould 2017, "Guided Open Vocabulary
Image Captioning with Constrained Beam Search", EMNLP, https://arxiv.org/abs/1612.00576),
batched across inputs like :func:`~vision_attention.models.decoding.beam_search`.

Each input carries up to C disjunctive constraints (sets of words; any one of a set meets it,
e.g. {"swan", "swans", "bird", "birds"}) and a set of banned words. A finite-state machine
tracks which constraints a caption has met: its 2^C states are the subsets met, and each state
keeps its own beam of K captions. At every step a caption in state s that takes word w moves to
s | bits(w), and each state keeps the K best captions that arrive in it, from any state. The
caption returned is the best one in the state where every constraint is met; when that state
holds none (no caption within ``max_len`` words met them all), the search gives up on them and
returns the best caption of any state, saying so (``complete``) and which constraints that
caption meets (``met``). Banned words are never chosen. Nothing is inserted: every caption is a
sequence the model scored, and its score is the model's own log-probability.

With no constraints this is plain beam search, caption for caption and score for score (a test
holds the two equal).

Legend: B inputs, C constraints, S = 2^C states, K beams per state, G = S*K rows per input,
N = B*G rows, T steps, V vocabulary, L attended positions.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ..vocab import END_ID, PAD_ID, START_ID
from .decoding import SUPPRESSED, StepDecoder, _expand, _select


class ConstrainedDecoded(NamedTuple):
    tokens: Tensor  # (B, T) long, ends with <end> (if produced) then <pad>
    log_prob: Tensor  # (B,) the model's log-probability of the tokens
    alphas: Tensor  # (B, T, L) attention at every step, 0 after <end>
    lengths: Tensor  # (B,) tokens up to and including <end>
    score: Tensor  # (B,) the ranking score: log_prob, length-normalised if asked
    met: Tensor  # (B, C) bool: the constraints the returned caption meets
    complete: Tensor  # (B,) bool: it meets every constraint (False: the search gave up on them)


@torch.no_grad()
def constrained_beam_search(
    model: StepDecoder,
    encoded,
    constraints: Tensor | None = None,
    banned: Tensor | None = None,
    beam_size: int = 5,
    length_penalty: float = 0.0,
    start_id: int = START_ID,
    end_id: int = END_ID,
    pad_id: int = PAD_ID,
    max_len: int = 30,
    suppressed: tuple[int, ...] = SUPPRESSED,
) -> ConstrainedDecoded:
    """Beam search whose captions must meet ``constraints`` and never hold a ``banned`` word.
    Inputs are searched in groups of equal constraint count, so that an input with none costs
    what plain beam search costs.

    Args:
        model: the step decoder (a captioner, an ensemble: anything beam search takes).
        encoded: what ``model.memory`` takes for B inputs.
        constraints: (B, C, V) bool: constraint c of input b is met by any word w with
            ``constraints[b, c, w]``; a row with no word is no constraint. None: no constraints.
        banned: (B, V) bool: words input b's captions never hold. None: none.
        beam_size: K, the beam of each constraint state.
        length_penalty: exponent of the length normalisation of the final choice.
        start_id: <start>.
        end_id: <end>.
        pad_id: <pad>.
        max_len: most words generated.
        suppressed: ids never chosen by any input.
    """
    memory = model.memory(encoded)
    batch, device = memory[0].shape[0], memory[0].device
    count = 0 if constraints is None else constraints.shape[1]
    active = torch.zeros(batch, 0, dtype=torch.bool, device=device)
    if count:
        constraints = constraints.to(device)
        active = constraints.any(-1)  # (B, C) a row with no word is no constraint
    settings = (beam_size, length_penalty, start_id, end_id, pad_id, max_len, suppressed)
    groups = active.sum(1)  # (B,) constraints of each input
    if bool((groups == count).all()):  # every slot of every input holds words: one search
        return _search(model, memory, constraints if count else None, banned, *settings)
    parts, rows = [], []
    for slots in groups.unique().tolist():
        index = torch.where(groups == slots)[0]  # the inputs with this many constraints
        sub = None
        if slots:  # their active constraints, first
            order = active[index].long().argsort(dim=1, descending=True, stable=True)[:, :slots]  # (n, c)
            sub = constraints[index[:, None], order]  # (n, c, V)
        whole = len(index) == batch  # one group: the memory as it is (a copy may round differently)
        part = memory if whole else _select(memory, index)
        result = _search(model, part, sub, None if banned is None else banned[index.cpu()], *settings)
        met = torch.zeros(len(index), count, dtype=torch.bool, device=device)
        if slots:
            met.scatter_(1, order, result.met)
        parts.append(result._replace(met=met))
        rows.append(index)
    return _merge(parts, torch.cat(rows), pad_id)


def _merge(parts: list[ConstrainedDecoded], rows: Tensor, pad_id: int) -> ConstrainedDecoded:
    """The groups' results back in input order, padded to the longest."""
    steps = max(p.tokens.shape[1] for p in parts)
    pad = lambda t, value: torch.nn.functional.pad(t, (0, 0) * (t.dim() - 2) + (0, steps - t.shape[1]), value=value)
    order = torch.empty_like(rows)
    order[rows] = torch.arange(len(rows), device=rows.device)
    fields = []
    for name in ConstrainedDecoded._fields:
        values = [getattr(p, name) for p in parts]
        if name == "tokens":
            values = [pad(v, pad_id) for v in values]
        elif name == "alphas":
            values = [pad(v, 0.0) for v in values]
        fields.append(torch.cat(values).index_select(0, order))
    return ConstrainedDecoded(*fields)


def _search(
    model: StepDecoder,
    memory: tuple,
    constraints: Tensor | None,
    banned: Tensor | None,
    beam_size: int,
    length_penalty: float,
    start_id: int,
    end_id: int,
    pad_id: int,
    max_len: int,
    suppressed: tuple[int, ...],
) -> ConstrainedDecoded:
    """The search of inputs that all have C constraints, each holding words (or none at all)."""
    batch, k, device = memory[0].shape[0], beam_size, memory[0].device
    count = 0 if constraints is None else constraints.shape[1]
    states = 2**count
    rows = states * k  # G
    vocab_bits = torch.zeros(batch, 1, dtype=torch.long, device=device)  # (B, V) once V is known
    if count:
        weights = 2 ** torch.arange(count, device=device)  # (C,)
        vocab_bits = (constraints.long() * weights[None, :, None]).sum(1)  # (B, V) the constraints a word meets
        vocab_bits[:, pad_id] = 0  # a finished caption's <pad> meets nothing
    if getattr(model, "beams_share_memory", False):
        state = _expand(model.init_state(memory), rows)
    else:
        memory = _expand(memory, rows)
        state = model.init_state(memory)
    tokens = torch.full((batch * rows,), start_id, dtype=torch.long, device=device)
    scores = torch.full((batch, states, k), float("-inf"), device=device)  # (B, S, K)
    scores[:, 0, 0] = 0.0  # one live caption, in the state where nothing is met
    finished = torch.zeros(batch, states, k, dtype=torch.bool, device=device)
    offsets = (torch.arange(batch, device=device) * rows).unsqueeze(1)  # (B, 1)
    state_ids = torch.arange(states, device=device)  # (S,)
    seqs = torch.zeros(batch * rows, 0, dtype=torch.long, device=device)
    alphas = None
    ban = None
    for _ in range(max_len):
        out = model.step(tokens, state, memory)
        log_probs = torch.log_softmax(out.logits.float(), dim=-1)  # (N, V)
        vocab = log_probs.shape[-1]
        if ban is None:
            ban = torch.zeros(batch, vocab, dtype=torch.bool, device=device)
            ban[:, list(suppressed)] = True
            if banned is not None:
                ban |= banned.to(device)
        log_probs = log_probs.view(batch, states, k, vocab).masked_fill(ban[:, None, None, :], float("-inf"))
        frozen = torch.full_like(log_probs[0, 0, 0], float("-inf"))
        frozen[pad_id] = 0.0
        log_probs = torch.where(finished.unsqueeze(-1), frozen, log_probs)  # (B, S, K, V)
        candidates = scores.unsqueeze(-1) + log_probs  # (B, S, K, V)
        if states == 1:
            arriving = candidates.view(batch, 1, k * vocab)  # (B, 1, K*V)
        else:  # the state each candidate moves to; each state takes the candidates arriving in it
            target = state_ids[None, :, None] | vocab_bits[:, None, :]  # (B, S, V)
            lands = target.unsqueeze(1) == state_ids[None, :, None, None]  # (B, S', S, V)
            arriving = torch.where(lands.unsqueeze(3), candidates.unsqueeze(1), float("-inf"))  # (B, S', S, K, V)
            arriving = arriving.view(batch, states, states * k * vocab)
        top, index = arriving.topk(k, dim=2)  # (B, S', K)
        parent, word = index // vocab, index % vocab  # parent: row within the input, s * K + beam
        parent_rows = (offsets + parent.view(batch, rows)).view(-1)  # (N,)
        was_finished = finished.view(batch, rows).gather(1, parent.view(batch, rows)).view(batch, states, k)
        alpha = out.alpha.index_select(0, parent_rows).masked_fill(was_finished.view(-1, 1), 0.0)  # (N, L)
        alphas = (
            alpha.unsqueeze(1)
            if alphas is None
            else torch.cat([alphas.index_select(0, parent_rows), alpha.unsqueeze(1)], 1)
        )
        seqs = torch.cat([seqs.index_select(0, parent_rows), word.view(-1, 1)], 1)  # (N, t)
        state = _select(out.state, parent_rows)
        finished = was_finished | (word == end_id)
        scores, tokens = top, word.view(-1)
        if bool(_settled(scores, finished).all()):
            break
    lengths = (seqs != pad_id).sum(1).view(batch, states, k)  # (B, S, K)
    ranking = scores / lengths.clamp_min(1).float() ** length_penalty if length_penalty else scores
    full = states - 1
    complete = torch.isfinite(ranking[:, full]).any(1)  # (B,) some caption met every constraint
    # the best caption in the final state; where it holds none, the best of any state
    in_final = torch.full_like(ranking, float("-inf"))
    in_final[:, full] = ranking[:, full]
    choice = torch.where(complete[:, None, None], in_final, ranking).view(batch, rows)
    best = choice.argmax(1)  # (B,) row within the input
    chosen = offsets.squeeze(1) + best  # (B,)
    pick = lambda x: x.reshape(batch, rows).gather(1, best[:, None]).squeeze(1)
    met_state = best // k  # (B,) the constraint state the chosen caption ended in
    met = ((met_state[:, None] >> torch.arange(count, device=device)) & 1).bool()  # (B, C)
    return ConstrainedDecoded(seqs[chosen], pick(scores), alphas[chosen], pick(lengths), pick(ranking), met, complete)


def _settled(scores: Tensor, finished: Tensor) -> Tensor:
    """(B,) inputs whose answer can no longer change: the final state's K captions are finished
    and no live caption of another state scores above the worst of them (a word only lowers a
    score, so none could enter it). Plain beam search's rule when there is one state."""
    live = ~finished & torch.isfinite(scores)  # (B, S, K)
    final_settled = ~live[:, -1].any(1)  # (B,)
    best_live = torch.where(live, scores, float("-inf")).flatten(1).amax(1)  # (B,)
    return final_settled & ((best_live < scores[:, -1].amin(1)) | ~live.any(2).any(1))
