"""The fused inference pass of :class:`~vision_attention.models.DRAW`.

The same maths as the model's ``forward`` loop (eq. 3-8 of Gregor et al.), faster: every
product of h_dec is one matmul and every product of h_enc another, and the LSTM gates are
written out. h_dec_t feeds the decoder's recurrence, the encoder's input, the next read
window (all for step t+1), the written content and the write window (step t); h_enc_t
feeds the posterior (step t) and the encoder's recurrence (step t+1). The fused matrices
are built from the parameters at each pass, so gradients reach them unchanged.

Legend: B batch, C channels, H x W image, Z latent size.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...layers import lstm_update


def inference_pass(model: nn.Module, x: Tensor, generator: torch.Generator | None) -> list[tuple]:
    """The pass of ``model(x)`` (:meth:`DRAW.forward`): per step (canvas, mu, log sigma, z,
    read window, write window)."""
    batch = x.shape[0]
    read_size = model.encoder.weight_ih.shape[1] - model.decoder.hidden_size
    dec_w, dec_b, sizes, enc_w, enc_b = fused_weights(model)
    weights = (
        dec_w,
        dec_b,
        sizes,
        enc_w,
        enc_b,
        model.encoder.weight_ih[:, :read_size].t(),
        model.decoder.weight_ih.t(),
    )
    features = model.feature_map(x) if model.read_source == "features" else None
    dec_proj, enc_proj = dec_b.expand(batch, -1), enc_b.expand(batch, -1)  # h_0 = 0
    c_enc = x.new_zeros(batch, model.encoder.hidden_size)
    c_dec = x.new_zeros(batch, model.decoder.hidden_size)
    canvas = torch.zeros_like(x)  # (B, C, H, W) logits
    glimpse_step = getattr(model, "compiled_step", None) or step
    trace = []
    for _ in range(model.steps):
        noise = torch.randn(batch, model.z_dim, generator=generator, device=x.device, dtype=x.dtype)  # (B, Z)
        canvas, c_enc, c_dec, enc_proj, dec_proj, out = glimpse_step(
            model, x, features, canvas, c_enc, c_dec, enc_proj, dec_proj, noise, weights
        )
        trace.append(out)
    return trace


def fused_weights(model: nn.Module) -> tuple[Tensor, Tensor, list[int], Tensor, Tensor]:
    """Every product of h_dec in one matrix and every product of h_enc in another."""
    read_size = model.encoder.weight_ih.shape[1] - model.decoder.hidden_size
    enc_from_dec = model.encoder.weight_ih[:, read_size:]
    dec_w = [model.decoder.weight_hh, enc_from_dec, model.write_content.weight]
    dec_b = [model.decoder.bias_ih + model.decoder.bias_hh, model.encoder.bias_ih, model.write_content.bias]
    if model.attention:
        dec_w += [model.reader.params.weight, model.writer.params.weight]
        dec_b += [model.reader.params.bias, model.writer.params.bias]
    sizes = [w.shape[0] for w in dec_w]
    enc_w = torch.cat([model.encoder.weight_hh, model.posterior.weight])
    enc_b = torch.cat([model.encoder.bias_hh, model.posterior.bias])
    return torch.cat(dec_w), torch.cat(dec_b), sizes, enc_w, enc_b


def step(model: nn.Module, x, features, canvas, c_enc, c_dec, enc_proj, dec_proj, noise, weights) -> tuple:
    """One glimpse: a pure function of its inputs, so that ``torch.compile`` can compile it
    (:meth:`DRAW.compile_steps`)."""
    dec_w, dec_b, sizes, enc_w, enc_b, enc_from_read, dec_from_z = weights
    enc = c_enc.shape[1]
    dec_hh, enc_in, _, read_params, _ = split(model, dec_proj, sizes)
    x_hat = x - torch.sigmoid(canvas)  # (B, C, H, W)
    if model.attention:
        glimpse, read_window = model._read_at(x, x_hat, features, read_params)
    else:
        glimpse, read_window = torch.cat([x.flatten(1), x_hat.flatten(1)], dim=1), None
    h_enc, c_enc = lstm_update(torch.addmm(enc_in + enc_proj[:, : 4 * enc], glimpse, enc_from_read), c_enc)
    enc_proj = torch.addmm(enc_b, h_enc, enc_w.t())  # (B, 4 enc + 2Z)
    mu, log_sigma = enc_proj[:, 4 * enc :].chunk(2, dim=1)
    log_sigma = log_sigma.clamp(*model.log_sigma_range)
    z = torch.addcmul(mu, torch.exp(log_sigma), noise)  # (B, Z)
    h_dec, c_dec = lstm_update(torch.addmm(dec_hh, z, dec_from_z), c_dec)
    dec_proj = torch.addmm(dec_b, h_dec, dec_w.t())
    _, _, content, _, write_params = split(model, dec_proj, sizes)
    written, write_window = model._write_at(content, write_params)
    canvas = canvas + written
    return canvas, c_enc, c_dec, enc_proj, dec_proj, (canvas, mu, log_sigma, z, read_window, write_window)


def split(model: nn.Module, proj: Tensor, sizes: list[int]) -> list[Tensor | None]:
    parts = list(proj.split(sizes, dim=1))
    return parts if model.attention else parts + [None, None]
