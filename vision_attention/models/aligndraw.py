"""alignDRAW: DRAW that draws what a caption says, attending over its words
(Mansimov et al. 2016, "Generating Images from Captions with Attention",
https://arxiv.org/abs/1511.02793, section 3).

A bidirectional LSTM reads the caption y into h^lang_1..N. For t = 1..T:

    s_t       = align(h^gen_{t-1}, h^lang)                       additive attention over the words
    x_hat_t   = x - sigmoid(c_{t-1});  r_t = read(x, x_hat_t, h^gen_{t-1})
    h^inf_t   = LSTM_inf(h^inf_{t-1}, [r_t, h^gen_{t-1}])
    z_t       ~ Q(Z_t | h^inf_t) = N(mu_q, sigma_q)               (training: the posterior)
    z_t       ~ P(Z_t | h^gen_{t-1}) = N(tanh(W_mu h), exp(tanh(W_sigma h)))   (generation: the prior)
    h^gen_t   = LSTM_gen(h^gen_{t-1}, [z_t, s_t])
    c_t       = c_{t-1} + write(h^gen_t)

The loss is -log D(x | c_T) + sum_t KL(Q(Z_t | ...) || P(Z_t | h^gen_{t-1})), the KL
between two diagonal Gaussians in closed form. Read, write, the inference LSTM and the
posterior are DRAW's parts, inherited from :class:`~vision_attention.models.draw.DrawParts`
as DRAW inherits them; the word attention is :class:`~vision_attention.layers.AdditiveAttention`.

Legend: B batch, S caption length, T steps, Z latent size, L language state (both directions).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..configured import Configured
from ..layers import AdditiveAttention, GaussianWindow, padding_mask
from ..vocab import PAD_ID
from .draw import DrawLoss, DrawParts, standard_noise, zero_states
from .registry import register_model


class AlignDrawOutput(NamedTuple):
    canvases: Tensor  # (T, B, C, H, W) canvas logits c_t after each step
    mu: Tensor  # (T, B, Z) posterior (training) or prior (generation) means
    log_sigma: Tensor  # (T, B, Z)
    z: Tensor  # (T, B, Z) the latents drawn
    read_windows: list[GaussianWindow] | None  # one per step; None when generating
    write_windows: list[GaussianWindow] | None
    prior_mu: Tensor  # (T, B, Z) of P(Z_t | h^gen_{t-1})
    prior_log_sigma: Tensor  # (T, B, Z)
    word_weights: Tensor  # (T, B, S) the attention over the caption's words at each step


def gaussian_kl(mu_q: Tensor, log_sigma_q: Tensor, mu_p: Tensor, log_sigma_p: Tensor) -> Tensor:
    """KL(N(mu_q, sigma_q) || N(mu_p, sigma_p)) summed over steps and units: (T, B, Z) -> (B,)."""
    variance_ratio = torch.exp(2 * (log_sigma_q - log_sigma_p))
    mean_term = (mu_q - mu_p).square() * torch.exp(-2 * log_sigma_p)
    return (log_sigma_p - log_sigma_q + 0.5 * (variance_ratio + mean_term - 1)).sum(dim=(0, 2))


@register_model
class AlignDRAW(Configured, DrawParts):
    """DRAW conditioned on a caption. It is made of DRAW's parts (:class:`~vision_attention.models.draw.DrawParts`:
    read, write, the inference LSTM and posterior, the generative LSTM over [z_t, s_t]) beside
    its own language model, word attention and learned prior, and has its own step.

    Args:
        vocab_size: caption vocabulary size (<pad> = 0).
        image_shape, steps, read_n, write_n, enc_dim, dec_dim, z_dim, attention, likelihood:
            as :class:`~vision_attention.models.DRAW` (enc_dim is the inference LSTM,
            dec_dim the generative LSTM).
        embed_dim: word embedding size.
        lang_dim: caption LSTM units each way (L = 2 lang_dim).
        align_dim: hidden size of the additive word attention.
    """

    def __init__(
        self,
        vocab_size: int,
        image_shape: tuple[int, int, int] = (1, 60, 60),
        steps: int = 32,
        read_n: int = 8,
        write_n: int = 8,
        enc_dim: int = 300,
        dec_dim: int = 300,
        z_dim: int = 150,
        attention: bool = True,
        likelihood: Literal["bernoulli", "logistic"] = "bernoulli",
        embed_dim: int = 128,
        lang_dim: int = 128,
        align_dim: int = 128,
    ) -> None:
        # LSTM_inf and Q as DRAW's; LSTM_gen reads [z_t, s_t], the latent and the caption's context
        super().__init__(
            image_shape, steps, read_n, write_n, enc_dim, dec_dim, z_dim, attention, likelihood,
            decoder_input=z_dim + 2 * lang_dim,
        )  # fmt: skip
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.language = nn.LSTM(embed_dim, lang_dim, batch_first=True, bidirectional=True)
        self.align = AdditiveAttention(dec_dim, 2 * lang_dim, align_dim)
        self.prior = nn.Linear(dec_dim, 2 * z_dim)  # mu, log sigma before their tanh

    def encode_caption(self, captions: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """h^lang (B, S, L), the mask of real words (B, S) and the projected keys (B, S, A)."""
        packed = pack_padded_sequence(self.embedding(captions), lengths.cpu(), batch_first=True, enforce_sorted=False)
        words = pad_packed_sequence(self.language(packed)[0], batch_first=True, total_length=captions.shape[1])[0]
        return words, padding_mask(lengths, captions.shape[1]), self.align.project_keys(words)

    def prior_params(self, h_dec: Tensor) -> tuple[Tensor, Tensor]:
        """mu = tanh(W_mu h), log sigma = tanh(W_sigma h) of P(Z_t | h^gen_{t-1})."""
        return torch.tanh(self.prior(h_dec)).chunk(2, dim=1)

    def _decode(self, z: Tensor, context: Tensor, h_dec: Tensor, c_dec: Tensor, canvas: Tensor) -> tuple:
        """h^gen_t = LSTM_gen(h^gen_{t-1}, [z_t, s_t]) and c_t = c_{t-1} + write(h^gen_t)."""
        h_dec, c_dec = self.decoder(torch.cat([z, context], dim=1), (h_dec, c_dec))
        written, window = self.write(h_dec)
        return h_dec, c_dec, canvas + written, window

    def _attend(self, h_dec: Tensor, words: Tensor, mask: Tensor, keys: Tensor) -> tuple[Tensor, Tensor]:
        return self.align(h_dec, words, mask=mask, projected_keys=keys)

    def forward(
        self, x: Tensor, captions: Tensor, lengths: Tensor, generator: torch.Generator | None = None
    ) -> AlignDrawOutput:
        """Encode and reconstruct ``x`` (B, C, H, W) in [0, 1] given its captions (B, S)."""
        words, mask, keys = self.encode_caption(captions, lengths)
        h_enc, c_enc, h_dec, c_dec = zero_states(
            x.shape[0], self.encoder.hidden_size, self.decoder.hidden_size, x.device, x.dtype
        )
        canvas = torch.zeros_like(x)
        trace = []
        for _ in range(self.steps):
            context, weights = self._attend(h_dec, words, mask, keys)
            prior_mu, prior_log_sigma = self.prior_params(h_dec)
            x_hat = x - torch.sigmoid(canvas)
            glimpse, read_window = self.read(x, x_hat, h_dec)
            h_enc, c_enc = self.encoder(torch.cat([glimpse, h_dec], dim=1), (h_enc, c_enc))
            mu, log_sigma, z = self.sample_posterior(h_enc, generator)
            h_dec, c_dec, canvas, write_window = self._decode(z, context, h_dec, c_dec, canvas)
            trace.append((canvas, mu, log_sigma, z, read_window, write_window, prior_mu, prior_log_sigma, weights))
        return self._aligned_output(trace, with_reads=True)

    @torch.no_grad()
    def generate(self, captions: Tensor, lengths: Tensor, generator: torch.Generator | None = None) -> AlignDrawOutput:
        """Draw one image per caption (B, S) from the prior, step by step."""
        words, mask, keys = self.encode_caption(captions, lengths)
        batch = captions.shape[0]
        _, _, h_dec, c_dec = zero_states(
            batch, self.encoder.hidden_size, self.decoder.hidden_size, words.device, words.dtype
        )
        canvas = torch.zeros(batch, *self.image_shape, device=words.device, dtype=words.dtype)
        trace = []
        for _ in range(self.steps):
            context, weights = self._attend(h_dec, words, mask, keys)
            mu, log_sigma = self.prior_params(h_dec)
            z = mu + torch.exp(log_sigma) * standard_noise(mu, self.z_dim, generator)
            h_dec, c_dec, canvas, write_window = self._decode(z, context, h_dec, c_dec, canvas)
            trace.append((canvas, mu, log_sigma, z, None, write_window, mu, log_sigma, weights))
        return self._aligned_output(trace, with_reads=False)

    def _aligned_output(self, trace: list[tuple], with_reads: bool) -> AlignDrawOutput:
        canvases, mus, log_sigmas, zs, reads, writes, prior_mus, prior_log_sigmas, weights = zip(*trace)
        stack = torch.stack
        return AlignDrawOutput(
            stack(canvases),
            stack(mus),
            stack(log_sigmas),
            stack(zs),
            list(reads) if self.attention and with_reads else None,
            list(writes) if self.attention else None,
            stack(prior_mus),
            stack(prior_log_sigmas),
            stack(weights),
        )


def aligndraw_loss(model: AlignDRAW, output: AlignDrawOutput, x: Tensor) -> DrawLoss:
    """-log D(x | c_T) + sum_t KL(posterior || learned prior), nats per image."""
    reconstruction = model.reconstruction_nll(output.canvases[-1], x)
    kl = gaussian_kl(output.mu, output.log_sigma, output.prior_mu, output.prior_log_sigma)
    return DrawLoss((reconstruction + kl).mean(), reconstruction, kl)
