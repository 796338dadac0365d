"""The fused teacher-forced pass of :class:`~vision_attention.models.ShowAttendTell`.

The same maths as the model's ``forward`` loop (eq. 1-7 of Xu et al. at every word), faster:

- the word-side products of the LSTM are computed for the whole caption before the loop;
- h_{t-1} feeds the LSTM, f_beta and (the paper's additive f_att) the attention's query:
  one matmul for all three;
- the additive attention runs through :class:`StepwiseAdditiveAttention`, whose backward
  adds each step's key and value gradients in place into one buffer;
- with lengths the batch is taken longest first, so that the captions still running at
  step t are a prefix of it: each step works on views of those rows, the padding costs
  nothing, and the deep output is read over the real words only.

Legend: B batch, b captions still running, T caption steps, L locations, D annotation
size, E embedding size, H hidden size, A attention size, V vocabulary size, N real words.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...layers import AdditiveAttention, SoftAttention, lstm_update, sample_location
from .additive_steps import StepwiseAdditiveAttention


def teacher_forced(
    model: nn.Module,
    features: Tensor,
    captions: Tensor,
    hard: bool,
    expectation: Tensor | bool,
    generator: torch.Generator | None,
    lengths: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """The pass of ``model(features, captions, ...)`` (:meth:`ShowAttendTell.forward`), ``hard``
    to sample the attention's locations: logits (B, T, V), alphas (B, T, L), and for hard
    attention log p(s_t) and H[alpha_t] (B, T)."""
    rows = Rows(captions.shape[0], captions.shape[1] - 1, lengths)
    features, captions = rows.sort(features), rows.sort(captions)
    if isinstance(expectation, Tensor):
        expectation = rows.sort(expectation)
    memory = model.memory(features)
    embedded = model.embed(captions[:, :-1])  # (B, T, E)
    trace = recur(model, memory, embedded, rows.active, hard, expectation, generator)
    states, contexts, alphas, log_probs, entropies = (rows.unsort(xs) for xs in trace)  # (B, T, ...)
    logits = readout_words(model, rows.unsort_rows(embedded), states, contexts, rows)  # (B, T, V)
    return logits, alphas, log_probs, entropies


def recur(model: nn.Module, memory, embedded: Tensor, active: list[int], hard: bool, expectation, generator) -> tuple:
    """The LSTM over the T steps, step t on the ``active[t]`` captions still running:
    per-step lists of h_t, z_t, alpha_t (and for hard attention log p(s_t), H[alpha_t])."""
    h, c = model.init_state(memory)
    E, H = model.embed_dim, model.hidden_dim
    w_ih = model.lstm.weight_ih  # (4H, E + D)
    word_gates = embedded @ w_ih[:, :E].T + model.lstm.bias_ih + model.lstm.bias_hh  # (B, T, 4H)
    w_z = w_ih[:, E:]  # (4H, D)
    w_fused, b_fused, attend = fused_query(model, memory)
    trace = ([], [], [], [], [])  # h, z, alpha, log p(s), entropy
    for t, rows in enumerate(active):
        if rows == 0:  # every caption has ended
            break
        h, c = h[:rows], c[:rows]  # the captions still running
        projected = torch.addmm(b_fused, h, w_fused.T)  # (b, 4H [+ A] [+ 1]): h_{t-1}'s products
        context, alpha = attend(projected[:, 4 * H :], h, rows)  # (b, D), (b, L)
        if hard:
            running = expectation[:rows] if isinstance(expectation, Tensor) else expectation
            sample = sample_location(context, alpha, memory.features[:rows], running, generator)
            context = sample.context
            trace[3].append(sample.log_prob)
            trace[4].append(sample.entropy)
        z = context if model.gate is None else torch.sigmoid(projected[:, -1:]) * context  # (b, D)
        h, c = lstm_update(word_gates[:rows, t] + projected[:, : 4 * H] + z @ w_z.T, c)  # (b, H) x 2
        for out, value in zip(trace, (h, z, alpha)):
            out.append(value)
    return trace


def fused_query(model: nn.Module, memory):
    """h_{t-1} feeds the LSTM, f_beta and (additive attention) f_att's query: one matmul
    for all. Returns its weight and bias and ``attend(query_part, h, rows) -> (z, alpha)``."""
    fused = [model.lstm.weight_hh]
    fused_bias = [torch.zeros_like(model.lstm.bias_hh)]
    attention = model.attention
    if type(attention) in (AdditiveAttention, SoftAttention):  # the paper's f_att: fused, hand-written backward
        fused.append(attention.query_proj.weight)
        fused_bias.append(attention.query_proj.bias)
        A = attention.query_proj.out_features
        step = StepwiseAdditiveAttention(memory.keys, memory.features, attention.v.weight[0])
        attend = lambda projected, h, rows: step(projected[:, :A])
    else:  # any other attention: called on the running rows
        attend = lambda projected, h, rows: attention(h, memory.features[:rows], projected_keys=memory.keys[:rows])
    if model.gate is not None:
        fused.append(model.gate.weight)
        fused_bias.append(model.gate.bias)
    return torch.cat(fused), torch.cat(fused_bias), attend


def readout_words(model: nn.Module, embedded: Tensor, states: Tensor, contexts: Tensor, rows: Rows) -> Tensor:
    """The deep output (B, T, V), over the real words only when lengths are known (0 elsewhere)."""
    if rows.real is None:
        return model.readout(embedded, states, contexts)
    words = rows.real.flatten().nonzero().squeeze(1)  # (N,) positions of the real words in B x T
    pick = lambda x: x.flatten(0, 1).index_select(0, words)  # (B, T, .) -> (N, .)
    read = model.readout(pick(embedded), pick(states), pick(contexts))  # (N, V)
    logits = read.new_zeros(rows.batch * rows.steps, model.vocab_size).index_copy(0, words, read)
    return logits.view(rows.batch, rows.steps, -1)


class Rows:
    """Which captions run at each step of a teacher-forced pass. With lengths, the batch is
    taken longest first, so that the captions still running at step t are a prefix of it:
    their rows are views, and the padding costs nothing (about 40% of the steps of a batch
    of 1-3 object scenes)."""

    def __init__(self, batch: int, steps: int, lengths: Tensor | None) -> None:
        self.batch, self.steps, self.real, self.order = batch, steps, None, None
        self.active = [batch] * steps
        if lengths is not None:
            self.order = torch.argsort(lengths, descending=True, stable=True)
            self.restore = torch.argsort(self.order)  # sorted rows -> the batch's order
            self.real = torch.arange(steps, device=lengths.device)[None, :] < (lengths - 1)[:, None]  # (B, T) words
            self.active = self.real.sum(0).tolist()  # captions still running at each step

    def sort(self, x: Tensor) -> Tensor:
        return x if self.order is None else x.index_select(0, self.order)

    def unsort_rows(self, x: Tensor) -> Tensor:
        return x if self.order is None else x.index_select(0, self.restore)  # index_select: a cheap backward

    def unsort(self, xs: list[Tensor]) -> Tensor | None:
        """Per-step outputs of the running captions -> (B, T, ...), 0 where a caption has ended."""
        if not xs:
            return None
        out = nn.utils.rnn.pad_sequence(xs)  # (B, T', ...)
        if out.shape[1] < self.steps:
            out = torch.cat([out, out.new_zeros(self.batch, self.steps - out.shape[1], *out.shape[2:])], dim=1)
        return self.unsort_rows(out)
