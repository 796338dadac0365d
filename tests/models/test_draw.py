import math
import multiprocessing
import os

import pytest
import torch

from tests.helpers import assert_every_parameter_gets_gradient
from vision_attention.models.backbones import Backbone
from vision_attention.models.draw import (
    DRAW,
    discretized_logistic_nll,
    draw_loss,
    importance_weighted_nll,
    kl_divergence,
    log_normal,
)
from vision_attention.models.fused import fused_off


def plain(model):
    """The model's own loop, the fused engine off: the reference the engine is held to."""

    def run(x, generator=None):
        with fused_off():
            return model(x, generator=generator)

    return run


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
    loss = draw_loss(model, out, x)
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
        single = draw_loss(model, out, x).reconstruction + (
            log_normal(out.z, out.mu, out.log_sigma) - log_normal(out.z, zeros, zeros)
        ).sum(0)
        torch.testing.assert_close(one, single)
        elbo = torch.stack([draw_loss(model, model(x), x).loss for _ in range(200)]).mean()
        iwae = importance_weighted_nll(model, x, samples=200).mean()
    assert iwae < elbo


VARIANTS = {
    "attention": {"image_shape": (3, 12, 10), "attention": True},
    "no attention": {"image_shape": (3, 12, 10), "attention": False},
    "features": {
        "image_shape": (1, 16, 16),
        "read_source": "features",
        "backbone": Backbone("tiny", grid=None, width=4, downsample=4),
    },
    "logistic": {"image_shape": (2, 8, 8), "likelihood": "logistic"},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_fused_pass_equals_the_reference_pass_and_its_gradients(variant):
    torch.manual_seed(0)
    options = {"steps": 4, "read_n": 2, "write_n": 3, "enc_dim": 12, "dec_dim": 10, "z_dim": 5, **VARIANTS[variant]}
    model = DRAW(**options).double().eval()  # eval: batch norm of the feature backbone is deterministic
    x = torch.rand(5, *model.image_shape, dtype=torch.float64)
    if model.likelihood == "logistic":
        x = torch.round(x * 255) / 255
    results = []
    for run in (model.forward, plain(model)):
        model.zero_grad()
        out = run(x, generator=torch.Generator().manual_seed(7))
        draw_loss(model, out, x).loss.backward()
        results.append((out, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    (fused, fused_grads), (reference, reference_grads) = results
    for a, b in zip(fused[:4], reference[:4]):
        torch.testing.assert_close(a, b)
    if model.attention:
        for a, b in zip(fused.read_windows + fused.write_windows, reference.read_windows + reference.write_windows):
            torch.testing.assert_close(a.filter_x, b.filter_x)
            torch.testing.assert_close(a.gamma, b.gamma)
    assert fused_grads.keys() == reference_grads.keys() == {n for n, _ in model.named_parameters()}
    for name in fused_grads:
        torch.testing.assert_close(fused_grads[name], reference_grads[name], msg=name)


def test_the_reference_pass_and_sampling_read_and_write_through_the_attention_layer(monkeypatch):
    """The write the fused pass is tested against is GaussianAttention's own, not a copy."""
    from vision_attention.layers import GaussianAttention

    calls = {"read": 0, "write": 0}
    for name in calls:
        original = getattr(GaussianAttention, name)

        def counted(self, *args, _original=original, _name=name):
            calls[_name] += 1
            return _original(self, *args)

        monkeypatch.setattr(GaussianAttention, name, counted)
    model = DRAW(steps=3, read_n=2, write_n=3, enc_dim=8, dec_dim=8, z_dim=4)
    plain(model)(torch.rand(2, *model.image_shape))
    assert calls == {"read": 3, "write": 3}
    model.generate(2)
    assert calls == {"read": 3, "write": 6}


def test_discretized_logistic_is_a_distribution_over_the_256_levels():
    torch.manual_seed(0)
    levels = torch.arange(256, dtype=torch.float64) / 255
    for mean_logit, log_scale in [(0.0, -2.0), (3.0, -6.0), (-9.0, -1.0), (0.4, -9.0)]:
        logits = torch.full((256, 1, 1, 1), mean_logit, dtype=torch.float64)
        nll = discretized_logistic_nll(
            logits, torch.tensor([log_scale], dtype=torch.float64), levels.view(256, 1, 1, 1)
        )
        total = torch.exp(-nll).sum()
        torch.testing.assert_close(total, torch.tensor(1.0, dtype=torch.float64), atol=1e-5, rtol=0)


def train_steps(model, images, steps, lr=3e-3, seed=0):
    """Plain Adam with the configs' clipping; returns the mean loss of the first and last 20 steps."""
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr, betas=(0.5, 0.999))
    losses = []
    for _step in range(steps):
        batch = images[torch.randint(len(images), (16,))]
        loss = draw_loss(model, model(batch), batch).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        losses.append(loss.item())
    return losses


def blob_images(count=64, side=12, seed=0):
    """Binary squares of random size and place: a small set with structure to learn."""
    g = torch.Generator().manual_seed(seed)
    images = torch.zeros(count, 1, side, side)
    for image in images:
        size = int(torch.randint(3, 7, (1,), generator=g))
        top, left = torch.randint(0, side - size, (2,), generator=g).tolist()
        image[0, top : top + size, left : left + size] = 1
    return images


@pytest.mark.parametrize("attention", [True, False])
def test_both_variants_learn_a_tiny_set(attention):
    torch.manual_seed(0)
    model = DRAW((1, 12, 12), steps=6, read_n=3, write_n=4, enc_dim=32, dec_dim=32, z_dim=6, attention=attention)
    losses = train_steps(model, blob_images(), 300)
    first, last = sum(losses[:20]) / 20, sum(losses[-20:]) / 20
    # From ~100 nats (every pixel a coin flip) to a bound that knows squares: at least halved.
    assert last < 0.5 * first, (first, last)


def harsh_run(seed: int) -> tuple[bool, bool]:
    """2000 steps at a harsh rate, to provoke blow-ups: are all losses and weights finite?"""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = DRAW((1, 12, 12), steps=4, read_n=2, write_n=3, enc_dim=16, dec_dim=16, z_dim=4)
    losses = train_steps(model, blob_images(128), 2000, lr=1e-2, seed=seed)
    return all(math.isfinite(v) for v in losses), all(bool(torch.isfinite(p).all()) for p in model.parameters())


@pytest.mark.slow  # 10000 steps in all, over a minute: `make test-slow`
def test_five_seeds_of_2000_steps_stay_finite():
    # Each seed in its own process, one thread each: the same runs, in half the time on two cores.
    with multiprocessing.get_context("spawn").Pool(min(5, os.cpu_count() or 1)) as pool:
        results = pool.map(harsh_run, range(5))
    for seed, (losses_finite, weights_finite) in enumerate(results):
        assert losses_finite, f"seed {seed}: a loss was not finite"
        assert weights_finite, f"seed {seed}: a weight was not finite"


def test_compiled_steps_give_the_reference_pass_and_its_gradients():
    torch.manual_seed(0)
    model = DRAW((1, 8, 8), steps=3, read_n=2, write_n=3, enc_dim=12, dec_dim=10, z_dim=5).double()
    x = torch.rand(4, 1, 8, 8, dtype=torch.float64)
    results = []
    for run in (plain(model), model.compile_steps(dynamic=False).forward):
        model.zero_grad()
        out = run(x, generator=torch.Generator().manual_seed(7))
        draw_loss(model, out, x).loss.backward()
        results.append((out.canvases, {n: p.grad.clone() for n, p in model.named_parameters()}))
    (reference, reference_grads), (compiled, compiled_grads) = results
    torch.testing.assert_close(compiled, reference)
    for name in reference_grads:
        torch.testing.assert_close(compiled_grads[name], reference_grads[name], msg=name)


def test_a_feature_reading_draw_rebuilds_from_its_config_and_from_a_config_of_before():
    model = DRAW(
        (1, 16, 16),
        steps=2,
        read_n=2,
        write_n=3,
        enc_dim=6,
        dec_dim=6,
        z_dim=3,
        read_source="features",
        backbone=Backbone("tiny", grid=None, width=4, downsample=4),
    )
    rebuilt = DRAW.from_config(model.config)
    rebuilt.load_state_dict(model.state_dict())  # the same backbone, parameter for parameter
    older = {**model.config, "backbone": {"width": 4}}  # checkpoints stored only the arguments that differ
    DRAW.from_config(older).load_state_dict(model.state_dict())
