"""Additive attention over the same keys at every step of a teacher-forced decoder, with
a hand-written backward.

A decoder attends to one memory (B, S, A) keys and (B, S, D) values at each of T steps,
and its captions end one by one. Through autograd each step's gradient for the keys and
values is a fresh (B, S, .) tensor, zero-filled around the rows still running and then
added to the others: several passes over the largest tensors of the step, T times.
Here each step adds its gradient in place into one buffer per memory, over its running
rows only, and the buffers are handed to autograd once. The maths is
:func:`~vision_attention.layers.additive.additive_scores` followed by
:func:`~vision_attention.layers.attend.attend`; a test checks values and gradients
against them.

Legend: B batch, b rows still running (a prefix of the batch), S key length,
A attention size, D value size.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


class _Gradients:
    """The gradient buffers of one memory for one backward pass: made by the first step
    that needs them, handed to autograd by :class:`_Memory`, then dropped (so that a second
    backward through a retained graph starts from zero)."""

    def __init__(self, keys: Tensor, values: Tensor) -> None:
        self.keys_like, self.values_like = keys, values
        self.values_need_grad = values.requires_grad  # a frozen encoder's features need none
        self.keys = self.values = None

    def make(self) -> None:
        if self.keys is None:
            self.keys = torch.zeros_like(self.keys_like)
            self.values = torch.zeros_like(self.values_like) if self.values_need_grad else None

    def take(self) -> tuple[Tensor | None, Tensor | None]:
        taken = self.keys, self.values
        self.keys = self.values = None
        return taken


class _Memory(torch.autograd.Function):
    """Identity on (keys, values); its backward hands over the buffers the steps filled."""

    @staticmethod
    def forward(ctx, keys: Tensor, values: Tensor, grads: _Gradients):
        ctx.grads = grads
        return keys.view_as(keys), values.view_as(values)

    @staticmethod
    @once_differentiable
    def backward(ctx, g_keys: Tensor | None, g_values: Tensor | None):
        grad_keys, grad_values = ctx.grads.take()
        if g_keys is not None:  # other uses of the memory, if any
            grad_keys = g_keys if grad_keys is None else grad_keys + g_keys
        if g_values is not None and ctx.grads.values_need_grad:
            grad_values = g_values if grad_values is None else grad_values + g_values
        return grad_keys, grad_values, None


class _Step(torch.autograd.Function):
    """softmax(v^T tanh(q + K[:b])) over S, and the weighted sum of V[:b]."""

    @staticmethod
    def forward(ctx, query: Tensor, keys: Tensor, values: Tensor, v: Tensor, grads: _Gradients):
        rows = query.shape[0]
        hidden = torch.add(keys[:rows], query.unsqueeze(1)).tanh_()  # (b, S, A)
        weights = torch.softmax(hidden @ v, dim=-1)  # (b, S)
        context = torch.bmm(weights.unsqueeze(1), values[:rows]).squeeze(1)  # (b, D)
        ctx.save_for_backward(hidden, weights, v)
        ctx.values, ctx.grads = values[:rows], grads
        return context, weights

    @staticmethod
    @once_differentiable
    def backward(ctx, g_context: Tensor | None, g_weights: Tensor | None):
        hidden, weights, v = ctx.saved_tensors
        ctx.grads.make()
        grad_keys, grad_values = ctx.grads.keys, ctx.grads.values
        rows = weights.shape[0]
        d_weights = torch.zeros_like(weights) if g_weights is None else g_weights.clone()  # (b, S)
        if g_context is not None:
            d_weights.unsqueeze(2).baddbmm_(ctx.values, g_context.unsqueeze(2))  # += V g
            if grad_values is not None:
                grad_values[:rows].baddbmm_(weights.unsqueeze(2), g_context.unsqueeze(1))  # += alpha g^T
        d_scores = weights * (d_weights - (weights * d_weights).sum(-1, keepdim=True))  # softmax backward
        g_v = d_scores.reshape(1, -1) @ hidden.reshape(-1, hidden.shape[-1])  # (1, A)
        d_hidden = d_scores.unsqueeze(-1) * v  # (b, S, A)
        torch.ops.aten.tanh_backward.grad_input(d_hidden, hidden, grad_input=d_hidden)  # in place: * (1 - h^2)
        grad_keys[:rows] += d_hidden
        return d_hidden.sum(1), None, None, g_v.squeeze(0), None


class StepwiseAdditiveAttention:
    """Attends with additive scores to fixed keys and values, one decoder step at a time,
    where the rows still running are a prefix of the batch (sort it by length).

    Args:
        keys: (B, S, A) projected keys U k.
        values: (B, S, D) the vectors to average.
        v: (A,) the score vector of v^T tanh(W q + U k).

    Call it with the (b, A) projected queries W q of the first b rows; it returns
    ``(context, weights)``, (b, D) and (b, S). Differentiable once (no double backward).
    """

    def __init__(self, keys: Tensor, values: Tensor, v: Tensor) -> None:
        values = values.to(keys.dtype)  # under mixed precision, one dtype throughout: the keys'
        self.grads = _Gradients(keys, values)
        self.keys, self.values = _Memory.apply(keys, values, self.grads)
        self.v = v

    def __call__(self, projected_query: Tensor) -> tuple[Tensor, Tensor]:
        dtype = self.keys.dtype
        with torch.autocast(projected_query.device.type, enabled=False):  # the backward has no autocast either
            return _Step.apply(projected_query.to(dtype), self.keys, self.values, self.v.to(dtype), self.grads)
