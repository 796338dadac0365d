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

:meth:`DRAW.forward` is this loop, one module at a time; it hands the same pass to the fused
engine of :mod:`vision_attention.models.fused.draw` unless the engines are turned off
(:func:`~vision_attention.models.fused.fused_off`).

Legend: B batch, C channels, H x W image, T steps, Z latent size, N read/write size.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..configured import Configured
from ..layers import GaussianAttention, GaussianWindow, place_window
from .backbones import Backbone
from .fused import draw as fused_draw
from .fused import use_fused
from .registry import register_model

LOG_SIGMA_RANGE = (-8.0, 4.0)  # keeps exp() finite: sigma in [3e-4, 55]
LEVELS = 256  # intensity levels of 8-bit images, for the discretised likelihood


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


def discretized_logistic_nll(logits: Tensor, log_scale: Tensor, x: Tensor) -> Tensor:
    """-log P(x) summed per image for x in {0, 1/255, ..., 1}: a logistic of mean
    sigmoid(logits) and scale exp(log_scale) (one per channel) integrated over each
    intensity's bin, the end bins taking the tails (Salimans et al. 2017, PixelCNN++,
    https://arxiv.org/abs/1701.05517). A proper distribution over the 256 levels, so the
    result is an NLL in nats comparable across models. (B, C, H, W) -> (B,)."""
    half_bin = 0.5 / (LEVELS - 1)
    inv_scale = torch.exp(-log_scale).view(1, -1, 1, 1)
    centred = x - torch.sigmoid(logits)
    upper, lower = (centred + half_bin) * inv_scale, (centred - half_bin) * inv_scale
    log_cdf_upper = upper - F.softplus(upper)  # log sigmoid(upper), for the lowest bin
    log_survival_lower = -F.softplus(lower)  # log (1 - sigmoid(lower)), for the highest bin
    mass = torch.sigmoid(upper) - torch.sigmoid(lower)
    middle = centred * inv_scale  # where the bin mass underflows, density at the centre x bin width
    log_density = middle - 2 * F.softplus(middle) - log_scale.view(1, -1, 1, 1) + math.log(2 * half_bin)
    log_mass = torch.where(mass > 1e-5, torch.log(mass.clamp_min(1e-12)), log_density)
    log_p = torch.where(x < half_bin, log_cdf_upper, torch.where(x > 1 - half_bin, log_survival_lower, log_mass))
    return -log_p.flatten(1).sum(1)


# ----- the parts DRAW and alignDRAW share -------------------------------------------------
def zero_states(batch: int, enc: int, dec: int, device, dtype) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """h_enc, c_enc, h_dec, c_dec at t = 0: (B, enc) x 2, (B, dec) x 2."""
    zeros = lambda n: torch.zeros(batch, n, device=device, dtype=dtype)
    return zeros(enc), zeros(enc), zeros(dec), zeros(dec)


def standard_noise(like: Tensor, z_dim: int, generator: torch.Generator | None) -> Tensor:
    """(B, Z) standard normal noise for the B rows of ``like``, on its device and dtype."""
    return torch.randn(like.shape[0], z_dim, generator=generator, device=like.device, dtype=like.dtype)


class DrawParts(nn.Module):
    """What DRAW and alignDRAW share, each part set here (None where a model has none): the
    reader and writer (Gaussian windows placed by the decoder state; None without attention,
    which reads and writes whole images), the CNN whose map the reader reads (None: it reads
    pixels), the inference LSTM and its posterior Q(Z_t | h_enc_t), the generative LSTM, the
    written content and the logistic likelihood's per-channel scale (None for Bernoulli); and
    the reads, writes, posterior samples and image NLL made of them. They are the model's own
    attributes, so their weights keep the names the shipped models were saved with.

    Args:
        image_shape, steps, read_n, write_n, enc_dim, dec_dim, z_dim, attention, likelihood:
            as :class:`DRAW` takes them.
        decoder_input: what LSTM_dec reads each step (DRAW: z_t; alignDRAW: [z_t, s_t]).
        features: a CNN whose map the glimpse of x is read from, beside the pixel glimpse of
            the error image (DRAW's ``read_source="features"``); None reads pixels.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        steps: int,
        read_n: int,
        write_n: int,
        enc_dim: int,
        dec_dim: int,
        z_dim: int,
        attention: bool,
        likelihood: str,
        decoder_input: int,
        features: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if likelihood not in ("bernoulli", "logistic"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'logistic', got {likelihood!r}")
        channels, height, width = image_shape
        self.image_shape, self.steps, self.z_dim = tuple(image_shape), steps, z_dim
        self.attention, self.likelihood, self.read_n, self.write_n = attention, likelihood, read_n, write_n
        self.reader = GaussianAttention(dec_dim, height, width, read_n) if attention else None
        self.writer = GaussianAttention(dec_dim, height, width, write_n) if attention else None
        self.features, self.feature_shape = features, None
        if features is not None:  # (D, h, w), probed without touching its batch-norm statistics
            features.eval()
            with torch.no_grad():
                self.feature_shape = tuple(features.feature_map(torch.zeros(1, 3, height, width)).shape[1:])
            features.train()
        if attention:
            read_channels = (self.feature_shape[0] if features is not None else channels) + channels  # x, x_hat
            read_size, write_size = read_channels * read_n * read_n, channels * write_n * write_n
        else:
            read_size, write_size = 2 * channels * height * width, channels * height * width
        self.encoder = nn.LSTMCell(read_size + dec_dim, enc_dim)  # LSTM_enc over [r_t, h_dec_{t-1}]
        self.decoder = nn.LSTMCell(decoder_input, dec_dim)
        self.posterior = nn.Linear(enc_dim, 2 * z_dim)  # mu, log sigma
        self.write_content = nn.Linear(dec_dim, write_size)
        # per channel, in [0, 1] units
        self.log_scale = nn.Parameter(torch.full((channels,), -2.0)) if likelihood == "logistic" else None

    def sample_posterior(self, h_enc: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor, Tensor]:
        """mu_t, log sigma_t of Q(Z_t | h_enc_t) and z_t = mu_t + sigma_t eps (reparameterised): (B, Z) x 3."""
        mu, log_sigma = self.posterior(h_enc).chunk(2, dim=1)
        log_sigma = log_sigma.clamp(*LOG_SIGMA_RANGE)
        return mu, log_sigma, mu + torch.exp(log_sigma) * standard_noise(mu, self.z_dim, generator)

    def reconstruction_nll(self, logits: Tensor, x: Tensor) -> Tensor:
        """-log D(x | c_T) per image in nats: (B, C, H, W) -> (B,)."""
        if self.likelihood == "logistic":
            return discretized_logistic_nll(logits, self.log_scale, x)
        return bernoulli_nll(logits, x)

    def read(
        self, x: Tensor, x_hat: Tensor, h_dec: Tensor, features: Tensor | None = None
    ) -> tuple[Tensor, GaussianWindow | None]:
        """Eq. 27: the glimpses of x and of the error image x_hat (B, read size) through the
        reader's own :meth:`GaussianAttention.read`, and the window; without attention the
        whole images. A feature map of x (B, D, h, w) is read in its place, by the same window."""
        if self.reader is None:
            return torch.cat([x.flatten(1), x_hat.flatten(1)], dim=1), None
        if features is None:
            return self.reader.read(x, x_hat, h_dec)
        return self._read_at(x, x_hat, features, self.reader.params(h_dec))

    def write(self, h_dec: Tensor) -> tuple[Tensor, GaussianWindow | None]:
        """Eq. 29: what h_dec writes on the canvas (B, C, H, W) through the writer's own
        :meth:`GaussianAttention.write`, and the window; without attention the canvas itself."""
        content = self.write_content(h_dec)
        if self.writer is None:
            return content.view(-1, *self.image_shape), None
        return self.writer.write(content.view(-1, self.image_shape[0], self.write_n, self.write_n), h_dec)

    # The fused engine (models/fused/draw.py) places every window from one matmul's raw parameters.
    def _read_at(
        self, x: Tensor, x_hat: Tensor, features: Tensor | None, params: Tensor
    ) -> tuple[Tensor, GaussianWindow]:
        """:meth:`read` with attention, from the raw window parameters (B, 5)."""
        _, height, width = self.image_shape
        window = place_window(params, height, width, self.read_n)
        if features is None:
            return GaussianAttention.glimpse(torch.cat([x, x_hat], dim=1), window).flatten(1), window
        _, fh, fw = self.feature_shape
        on_map = place_window(params, fh, fw, self.read_n, scale=max(fh, fw) / max(height, width))
        glimpses = [GaussianAttention.glimpse(features, on_map), GaussianAttention.glimpse(x_hat, window)]
        return torch.cat([g.flatten(1) for g in glimpses], dim=1), window

    def _write_at(self, content: Tensor, params: Tensor | None) -> tuple[Tensor, GaussianWindow | None]:
        """:meth:`write` of the (B, C*N*N) contents (the whole canvas without attention) from the raw parameters."""
        if not self.attention:
            return content.view(-1, *self.image_shape), None
        channels, height, width = self.image_shape
        window = place_window(params, height, width, self.write_n)
        return GaussianAttention.paint(content.view(-1, channels, self.write_n, self.write_n), window), window


@register_model
class DRAW(Configured, DrawParts):
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
        likelihood: "bernoulli" (binary images, and intensities as the paper does) or
            "logistic" (a discretised logistic over 256 intensity levels, for 8-bit images).
        read_source: "pixels" reads glimpses of x and of the error image (the paper);
            "features" reads the glimpse of x from a CNN feature map of the image (computed
            once per image by :class:`~vision_attention.models.backbones.Backbone`, placed by the
            same window rescaled to the map) beside the pixel glimpse of the error image.
        backbone: the :class:`~vision_attention.models.backbones.Backbone` of ``read_source="features"``,
            as Show, Attend and Tell takes its encoder (default: the small ``tiny`` CNN, 4x
            down-sampling, width 16).
    """

    log_sigma_range = LOG_SIGMA_RANGE  # the fused engine's too

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
        likelihood: Literal["bernoulli", "logistic"] = "bernoulli",
        read_source: Literal["pixels", "features"] = "pixels",
        backbone: Backbone | None = None,
    ) -> None:
        if read_source not in ("pixels", "features"):
            raise ValueError(f"read_source must be 'pixels' or 'features', got {read_source!r}")
        if read_source == "features" and not attention:
            raise ValueError("read_source='features' places glimpses on the feature map: it needs attention=True")
        if read_source == "features" and backbone is None:
            backbone = Backbone("tiny", grid=None, width=16, downsample=4)
        super().__init__(
            image_shape, steps, read_n, write_n, enc_dim, dec_dim, z_dim, attention, likelihood,
            decoder_input=z_dim, features=backbone if read_source == "features" else None,
        )  # fmt: skip
        self.read_source = read_source

    @classmethod
    def upgrade_config(cls, config: dict) -> dict:
        """Checkpoints before the backbone was an argument stored only its settings that differ."""
        backbone = config.get("backbone")
        if config.get("read_source") == "features" and isinstance(backbone, dict) and "name" not in backbone:
            config["backbone"] = {"name": "tiny", "width": 16, "downsample": 4, "grid": None, **backbone}
        return config

    def feature_map(self, x: Tensor) -> Tensor:
        """The backbone's map of x, grey images repeated to RGB: (B, C, H, W) -> (B, D, h, w)."""
        return self.features.feature_map(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)

    def _states(self, batch: int, device, dtype) -> tuple[Tensor, ...]:
        return zero_states(batch, self.encoder.hidden_size, self.decoder.hidden_size, device, dtype)

    # ----- the inference pass: the paper's loop -----------------------------------
    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> DrawOutput:
        """Encode and reconstruct ``x`` (B, C, H, W) in [0, 1] over T steps (eq. 3-8), through
        the fused engine (:mod:`~vision_attention.models.fused.draw`) unless turned off."""
        if use_fused():
            return self._output(fused_draw.inference_pass(self, x, generator))
        h_enc, c_enc, h_dec, c_dec = self._states(x.shape[0], x.device, x.dtype)  # (B, enc) x 2, (B, dec) x 2
        features = self.feature_map(x) if self.read_source == "features" else None  # (B, D, h, w)
        canvas = torch.zeros_like(x)  # (B, C, H, W) logits c_0
        trace = []  # per step: canvas, mu, log sigma, z, read window, write window
        for _ in range(self.steps):
            x_hat = x - torch.sigmoid(canvas)  # the error image
            glimpse, read_window = self.read(x, x_hat, h_dec, features)  # r_t
            h_enc, c_enc = self.encoder(torch.cat([glimpse, h_dec], dim=1), (h_enc, c_enc))
            mu, log_sigma, z = self.sample_posterior(h_enc, generator)  # z_t ~ Q(Z_t | h_enc_t)
            h_dec, c_dec = self.decoder(z, (h_dec, c_dec))
            written, write_window = self.write(h_dec)
            canvas = canvas + written  # c_t = c_{t-1} + write(h_dec_t)
            trace.append((canvas, mu, log_sigma, z, read_window, write_window))
        return self._output(trace)

    def compile_steps(self, **options) -> DRAW:
        """Compile the fused engine's step with ``torch.compile`` (its elementwise ops fused,
        forward and backward): a faster training step after a one-off compilation of some
        seconds, and again for each new batch shape. Returns the model."""
        self.compiled_step = torch.compile(fused_draw.step, **options)
        return self

    def _output(self, trace: list[tuple]) -> DrawOutput:
        canvases, mus, log_sigmas, zs, reads, writes = zip(*trace)
        windows = (list(reads), list(writes)) if self.attention else (None, None)
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
        return DrawOutput(
            torch.stack(canvases), zeros, zeros, torch.stack(zs), None, writes if self.attention else None
        )


def draw_loss(model: DRAW, output: DrawOutput, x: Tensor) -> DrawLoss:
    """The negative variational bound in nats per image (eq. 9-12)."""
    reconstruction = model.reconstruction_nll(output.canvases[-1], x)  # (B,)
    kl = kl_divergence(output.mu, output.log_sigma)  # (B,)
    return DrawLoss((reconstruction + kl).mean(), reconstruction, kl)


def log_normal(z: Tensor, mu: Tensor, log_sigma: Tensor) -> Tensor:
    """log N(z; mu, sigma) summed over the last dimension."""
    return (-0.5 * ((z - mu) / torch.exp(log_sigma)).square() - log_sigma - 0.5 * math.log(2 * math.pi)).sum(-1)


@torch.no_grad()
def importance_weighted_nll(
    model: DRAW, x: Tensor, samples: int = 10, generator: torch.Generator | None = None
) -> Tensor:
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
        log_weights.append(-model.reconstruction_nll(out.canvases[-1], x) + log_prior - log_posterior)
    stacked = torch.stack(log_weights)  # (k, B)
    return -(torch.logsumexp(stacked, 0) - math.log(samples))
