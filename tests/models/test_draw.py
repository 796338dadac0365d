import math

import pytest
import torch

from tests.helpers import assert_every_parameter_gets_gradient
from vision_attention.models.draw import DRAW, draw_loss, importance_weighted_nll, kl_divergence, log_normal


def test_closed_form_kl_matches_a_monte_carlo_estimate():
    torch.manual_seed(0)
    mu, log_sigma = torch.randn(3, 2, 4, dtype=torch.float64), 0.5 * torch.randn(3, 2, 4, dtype=torch.float64)
    exact = kl_divergence(mu, log_sigma)  # (B,) summed over T = 3 steps and Z = 4 units
    z = mu + torch.exp(log_sigma) * torch.randn(200000, *mu.shape, dtype=torch.float64)
    zeros = torch.zeros_like(mu)
    samples = (log_normal(z, mu, log_sigma) - log_normal(z, zeros, zeros)).sum(1)  # (S, B)
    stderr = samples.std(0) / math.sqrt(len(samples))
    assert ((samples.mean(0) - exact).abs() < 4 * stderr).all(), (samples.mean(0), exact)
    # The constant is -T*Z/2 (not -T/2): a standard-normal posterior costs nothing.
    assert torch.allclose(kl_divergence(zeros, zeros), torch.zeros(2, dtype=torch.float64))


@pytest.mark.parametrize("attention", [True, False])
def test_shapes_windows_bound_terms_and_gradients(attention):
    torch.manual_seed(0)
    model = DRAW((3, 12, 10), steps=4, read_n=2, write_n=3, enc_dim=16, dec_dim=16, z_dim=5, attention=attention)
    x = torch.rand(6, 3, 12, 10)
    out = model(x)
    assert out.canvases.shape == (4, 6, 3, 12, 10)
    assert out.mu.shape == out.log_sigma.shape == out.z.shape == (4, 6, 5)
    if attention:
        assert len(out.read_windows) == len(out.write_windows) == 4
        assert out.write_windows[0].filter_x.shape == (6, 3, 10) and out.read_windows[0].filter_y.shape == (6, 2, 12)
    else:
        assert out.read_windows is None and out.write_windows is None
    loss = draw_loss(out, x)
    torch.testing.assert_close(loss.loss, (loss.reconstruction + loss.kl).mean())
    manual = torch.nn.functional.binary_cross_entropy_with_logits(out.canvases[-1], x, reduction="sum") / 6
    torch.testing.assert_close(loss.reconstruction.mean(), manual)
    assert torch.isfinite(loss.loss)
    assert_every_parameter_gets_gradient(model, loss.loss)
    sample = model.generate(5, generator=torch.Generator().manual_seed(0))
    assert sample.canvases.shape == (4, 5, 3, 12, 10)


def test_importance_weighted_bound_is_tighter_than_the_elbo():
    torch.manual_seed(0)
    model = DRAW((1, 8, 8), steps=3, read_n=2, write_n=2, enc_dim=8, dec_dim=8, z_dim=3)
    x = torch.bernoulli(torch.full((4, 1, 8, 8), 0.3))
    with torch.no_grad():
        # k = 1 is the one-sample estimate of the ELBO at the drawn z.
        one = importance_weighted_nll(model, x, samples=1, generator=torch.Generator().manual_seed(5))
        out = model(x, generator=torch.Generator().manual_seed(5))
        zeros = torch.zeros_like(out.mu)
        single = draw_loss(out, x).reconstruction + (log_normal(out.z, out.mu, out.log_sigma) - log_normal(out.z, zeros, zeros)).sum(0)
        torch.testing.assert_close(one, single)
        elbo = torch.stack([draw_loss(model(x), x).loss for _ in range(200)]).mean()
        iwae = importance_weighted_nll(model, x, samples=200).mean()
    assert iwae < elbo
