"""DRAW: a recurrent variational auto-encoder that draws with attention
(Gregor et al. 2015, "DRAW: A Recurrent Neural Network For Image Generation",
https://arxiv.org/abs/1502.04623).

For t = 1..T (eq. 3-8):

    x_hat_t  = x - sigmoid(c_{t-1})
    r_t      = read(x, x_hat_t, h^dec_{t-1})
    h^enc_t  = LSTM_enc(h^enc_{t-1}, [r_t, h^dec_{t-1}])
    z_t      ~ Q(Z_t | h^enc_t) = N(mu_t, sigma_t)        (reparameterised)
    h^dec_t  = LSTM_dec(h^dec_{t-1}, z_t)
    c_t      = c_{t-1} + write(h^dec_t)

read/write use :class:`~vision_attention.layers.GaussianAttention` (N x N glimpses;
write N x N patches) or, without attention, the whole image and a linear map to
the canvas. The loss is the negative variational bound in nats per image,
L = L^x + L^z with L^x = -log D(x | c_T) and the closed-form

    L^z = 1/2 sum_t (mu_t^2 + sigma_t^2 - log sigma_t^2) - T Z / 2     (eq. 11, summed over the Z units)

Legend: B batch, C channels, H x W image, T steps, Z latent size, N read/write size.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers import GaussianAttention, GaussianWindow

LOG_SIGMA_RANGE = (-8.0, 4.0)  # keeps exp() finite: sigma in [3e-4, 55]


class DrawOutput(NamedTuple):
    canvases: Tensor  # (T, B, C, H, W) canvas logits c_t after each step
    mu: Tensor  # (T, B, Z)
    log_sigma: Tensor  # (T, B, Z)
    z: Tensor  # (T, B, Z) the latents drawn
    read_windows: list[GaussianWindow] | None  # one per step, with attention
    write_windows: list[GaussianWindow] | None


class DrawLoss(NamedTuple):
    loss: Tensor  # mean over the batch of reconstruction + kl, nats per image
    reconstruction: Tensor  # (B,) -log D(x | c_T)
    kl: Tensor  # (B,) L^z


def kl_divergence(mu: Tensor, log_sigma: Tensor) -> Tensor:
    """L^z per image from (T, B, Z) posteriors against N(0, I): 1/2 sum (mu^2 + sigma^2 - log sigma^2) - TZ/2."""
    steps, _, z_dim = mu.shape
    total = 0.5 * (mu.square() + torch.exp(2 * log_sigma) - 2 * log_sigma).sum(dim=(0, 2))  # (B,)
    return total - steps * z_dim / 2


def bernoulli_nll(logits: Tensor, x: Tensor) -> Tensor:
    """-log Bernoulli(x | sigmoid(logits)) summed per image: (B, C, H, W) -> (B,)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


class DRAW(nn.Module):
    """The DRAW network.

    Args:
        image_shape: (C, H, W) of the images.
        steps: T, number of glimpses.
        read_n: N of the read glimpses (attention only).
        write_n: N of the written patches (attention only).
        enc_dim: encoder LSTM size.
        dec_dim: decoder LSTM size.
        z_dim: Z, latent units per step.
        attention: Gaussian read/write attention, or the whole image (the paper's baseline).
        likelihood: "bernoulli" (binary images, and intensities as the paper does).
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        steps: int = 64,
        read_n: int = 2,
        write_n: int = 5,
        enc_dim: int = 256,
        dec_dim: int = 256,
        z_dim: int = 100,
        attention: bool = True,
        likelihood: Literal["bernoulli"] = "bernoulli",
    ) -> None:
        super().__init__()
        if likelihood != "bernoulli":
            raise ValueError(f"likelihood must be 'bernoulli', got {likelihood!r}")
        channels, height, width = image_shape
        self.image_shape, self.steps, self.z_dim = tuple(image_shape), steps, z_dim
        self.attention, self.likelihood = attention, likelihood
        self.read_n, self.write_n = read_n, write_n
        self.config = {"image_shape": list(image_shape), "steps": steps, "read_n": read_n, "write_n": write_n,
                       "enc_dim": enc_dim, "dec_dim": dec_dim, "z_dim": z_dim, "attention": attention,
                       "likelihood": likelihood}
        if attention:
            self.reader = GaussianAttention(dec_dim, height, width, read_n)
            self.writer = GaussianAttention(dec_dim, height, width, write_n)
            read_size, write_size = 2 * channels * read_n * read_n, channels * write_n * write_n
        else:
            read_size, write_size = 2 * channels * height * width, channels * height * width
        self.encoder = nn.LSTMCell(read_size + dec_dim, enc_dim)
        self.decoder = nn.LSTMCell(z_dim, dec_dim)
        self.posterior = nn.Linear(enc_dim, 2 * z_dim)  # mu, log sigma
        self.write_content = nn.Linear(dec_dim, write_size)

    @classmethod
    def from_config(cls, config: dict) -> "DRAW":
        return cls(**{**config, "image_shape": tuple(config["image_shape"])})

    # ----- read and write ---------------------------------------------------------
    def read(self, x: Tensor, x_hat: Tensor, h_dec: Tensor) -> tuple[Tensor, GaussianWindow | None]:
        if self.attention:
            return self.reader.read(x, x_hat, h_dec)
        return torch.cat([x.flatten(1), x_hat.flatten(1)], dim=1), None

    def write(self, h_dec: Tensor) -> tuple[Tensor, GaussianWindow | None]:
        content = self.write_content(h_dec)  # (B, C*N*N) or (B, C*H*W)
        if self.attention:
            patch = content.view(-1, self.image_shape[0], self.write_n, self.write_n)
            return self.writer.write(patch, h_dec)
        return content.view(-1, *self.image_shape), None

    def _states(self, batch: int, device, dtype) -> tuple[Tensor, ...]:
        enc, dec = self.encoder.hidden_size, self.decoder.hidden_size
        zeros = lambda n: torch.zeros(batch, n, device=device, dtype=dtype)  # noqa: E731
        return zeros(enc), zeros(enc), zeros(dec), zeros(dec)

    # ----- the generative and inference passes -------------------------------------
    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> DrawOutput:
        """Encode and reconstruct ``x`` (B, C, H, W) in [0, 1] over T steps."""
        batch = x.shape[0]
        h_enc, c_enc, h_dec, c_dec = self._states(batch, x.device, x.dtype)
        canvas = torch.zeros_like(x)  # (B, C, H, W) logits
        canvases, mus, log_sigmas, zs, reads, writes = [], [], [], [], [], []
        for _ in range(self.steps):
            x_hat = x - torch.sigmoid(canvas)  # (B, C, H, W)
            glimpse, read_window = self.read(x, x_hat, h_dec)  # (B, R)
            h_enc, c_enc = self.encoder(torch.cat([glimpse, h_dec], dim=1), (h_enc, c_enc))  # (B, enc)
            mu, log_sigma = self.posterior(h_enc).chunk(2, dim=1)  # (B, Z) x 2
            log_sigma = log_sigma.clamp(*LOG_SIGMA_RANGE)
            noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + torch.exp(log_sigma) * noise  # (B, Z)
            h_dec, c_dec = self.decoder(z, (h_dec, c_dec))  # (B, dec)
            written, write_window = self.write(h_dec)  # (B, C, H, W)
            canvas = canvas + written
            canvases.append(canvas)
            mus.append(mu)
            log_sigmas.append(log_sigma)
            zs.append(z)
            reads.append(read_window)
            writes.append(write_window)
        windows = (reads, writes) if self.attention else (None, None)
        return DrawOutput(torch.stack(canvases), torch.stack(mus), torch.stack(log_sigmas), torch.stack(zs), *windows)

    @torch.no_grad()
    def generate(self, n: int, generator: torch.Generator | None = None, device=None) -> DrawOutput:
        """Draw ``n`` images from the prior: z_t ~ N(0, I), canvases (T, n, C, H, W) logits."""
        device = device or self.posterior.weight.device
        _, _, h_dec, c_dec = self._states(n, device, self.posterior.weight.dtype)
        canvas = torch.zeros(n, *self.image_shape, device=device)
        canvases, writes, zs = [], [], []
        for _ in range(self.steps):
            z = torch.randn(n, self.z_dim, generator=generator, device=device)
            zs.append(z)
            h_dec, c_dec = self.decoder(z, (h_dec, c_dec))
            written, window = self.write(h_dec)
            canvas = canvas + written
            canvases.append(canvas)
            writes.append(window)
        zeros = torch.zeros(self.steps, n, self.z_dim, device=device)  # the prior's mu and log sigma
        return DrawOutput(torch.stack(canvases), zeros, zeros, torch.stack(zs), None, writes if self.attention else None)


def draw_loss(output: DrawOutput, x: Tensor) -> DrawLoss:
    """The negative variational bound in nats per image (eq. 9-12)."""
    reconstruction = bernoulli_nll(output.canvases[-1], x)  # (B,)
    kl = kl_divergence(output.mu, output.log_sigma)  # (B,)
    return DrawLoss((reconstruction + kl).mean(), reconstruction, kl)


def log_normal(z: Tensor, mu: Tensor, log_sigma: Tensor) -> Tensor:
    """log N(z; mu, sigma) summed over the last dimension."""
    return (-0.5 * ((z - mu) / torch.exp(log_sigma)).square() - log_sigma - 0.5 * math.log(2 * math.pi)).sum(-1)


@torch.no_grad()
def importance_weighted_nll(model: DRAW, x: Tensor, samples: int = 10, generator: torch.Generator | None = None) -> Tensor:
    """The k-sample importance-weighted bound -log mean_k p(x, z_k) / q(z_k | x) in nats per
    image (Burda et al. 2016, https://arxiv.org/abs/1509.00519): tighter than the ELBO,
    equal to it at k = 1 in expectation. Returns (B,)."""
    log_weights = []
    zeros = None
    for _ in range(samples):
        out = model(x, generator=generator)
        zeros = torch.zeros_like(out.mu) if zeros is None else zeros
        log_prior = log_normal(out.z, zeros, zeros).sum(0)  # (B,) log p(z)
        log_posterior = log_normal(out.z, out.mu, out.log_sigma).sum(0)  # (B,) log q(z | x)
        log_weights.append(-bernoulli_nll(out.canvases[-1], x) + log_prior - log_posterior)
    stacked = torch.stack(log_weights)  # (k, B)
    return -(torch.logsumexp(stacked, 0) - math.log(samples))
