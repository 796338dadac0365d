"""alignDRAW: the KL against torch.distributions, padding kept out of the word attention,
and a tiny model that learns to draw what its caption says."""

import torch
from torch.distributions import Normal, kl_divergence

from tests.helpers import assert_every_parameter_gets_gradient
from vision_attention.models import AlignDRAW, aligndraw_loss
from vision_attention.models.aligndraw import gaussian_kl

# Toy captions: <start> colour side <end>; ids 4-6 red/green/blue, 7-8 left/right.
START, END, COLOURS, SIDES = 1, 2, (4, 5, 6), (7, 8)


def small_model(**overrides):
    options = {
        "vocab_size": 10,
        "image_shape": (3, 12, 12),
        "steps": 6,
        "read_n": 3,
        "write_n": 4,
        "enc_dim": 48,
        "dec_dim": 48,
        "z_dim": 6,
        "embed_dim": 12,
        "lang_dim": 12,
        "align_dim": 12,
    }
    return AlignDRAW(**{**options, **overrides})


def toy_batch(count, generator):
    """A 6 x 6 block of pure red, green or blue in the left or right half of a black 12 x 12 image."""
    colour = torch.randint(0, 3, (count,), generator=generator)
    side = torch.randint(0, 2, (count,), generator=generator)
    images = torch.zeros(count, 3, 12, 12)
    for i in range(count):
        images[i, colour[i], 3:9, 6 * side[i] : 6 * side[i] + 6] = 1.0
    captions = torch.stack([torch.tensor([START, COLOURS[c], SIDES[s], END]) for c, s in zip(colour, side)])
    return images, captions, torch.full((count,), 4)


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu_q, mu_p, ls_q, ls_p = (torch.randn(5, 3, 7, generator=g) for _ in range(4))
    expected = kl_divergence(Normal(mu_q, ls_q.exp()), Normal(mu_p, ls_p.exp())).sum(dim=(0, 2))
    torch.testing.assert_close(gaussian_kl(mu_q, ls_q, mu_p, ls_p), expected)


def test_every_public_method_of_alignDRAW_runs():
    """Its own methods only, each called: none inherited from DRAW that cannot run here."""
    from torch import nn

    from vision_attention.configured import Configured

    model = small_model().eval()
    inherited = lambda n: hasattr(nn.Module, n) or hasattr(Configured, n)
    own = {n for n in dir(AlignDRAW) if not n.startswith("_") and not inherited(n)} | {"forward", "from_config"}
    x, captions, lengths = torch.rand(2, 3, 12, 12), torch.tensor([[1, 4, 7, 2], [1, 5, 2, 0]]), torch.tensor([4, 3])
    h = torch.zeros(2, 48)
    called = {
        "from_config": AlignDRAW.from_config(model.config).config == model.config,
        "Config": AlignDRAW.Config(**model.config).lang_dim == model.config["lang_dim"] == 12,
        "encode_caption": model.encode_caption(captions, lengths)[0].shape == (2, 4, 24),
        "prior_params": model.prior_params(h)[0].shape == (2, 6),
        "sample_posterior": [t.shape for t in model.sample_posterior(h, None)] == [(2, 6)] * 3,
        "read": model.read(x, x, h)[0].shape == (2, 2 * 3 * 3 * 3),
        "write": model.write(h)[0].shape == x.shape,
        "reconstruction_nll": model.reconstruction_nll(torch.zeros_like(x), x).shape == (2,),
        "forward": model(x, captions, lengths).canvases.shape == (6, 2, 3, 12, 12),
        "generate": model.generate(captions, lengths).canvases.shape == (6, 2, 3, 12, 12),
    }
    assert set(called) == own and all(called.values()), called


def test_padding_gets_no_word_attention_and_changes_nothing():
    torch.manual_seed(0)
    model = small_model().double()
    x = torch.rand(2, 3, 12, 12, dtype=torch.float64)
    captions, lengths = torch.tensor([[1, 4, 7, 2, 0], [1, 5, 2, 0, 0]]), torch.tensor([4, 3])
    out = model(x, captions, lengths, generator=torch.Generator().manual_seed(1))
    assert (out.word_weights[:, 0, 4:] == 0).all() and (out.word_weights[:, 1, 3:] == 0).all()
    torch.testing.assert_close(out.word_weights.sum(-1), torch.ones(6, 2, dtype=torch.float64))
    longer = torch.cat([captions, torch.zeros(2, 4, dtype=torch.long)], dim=1)
    again = model(x, longer, lengths, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(again.canvases, out.canvases)
    loss = aligndraw_loss(model, out, x)
    torch.testing.assert_close(loss.loss, (loss.reconstruction + loss.kl).mean())
    assert_every_parameter_gets_gradient(model, loss.loss)


def test_generation_uses_the_learned_prior_of_the_previous_decoder_state():
    torch.manual_seed(0)
    model = small_model()
    captions, lengths = torch.tensor([[1, 4, 7, 2]]), torch.tensor([4])
    out = model.generate(captions, lengths, generator=torch.Generator().manual_seed(0))
    # step 1 starts from h_dec = 0: the prior is N(tanh(b_mu), exp(tanh(b_sigma)))
    mu0, log_sigma0 = torch.tanh(model.prior.bias).chunk(2)
    torch.testing.assert_close(out.mu[0, 0], mu0)
    torch.testing.assert_close(out.log_sigma[0, 0], log_sigma0)
    assert out.read_windows is None and len(out.write_windows) == 6


def test_a_tiny_model_learns_to_draw_the_captioned_colour_and_side():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = small_model()
    optimizer = torch.optim.Adam(model.parameters(), 5e-3)
    losses = []
    for _ in range(200):
        x, captions, lengths = toy_batch(32, g)
        loss = aligndraw_loss(model, model(x, captions, lengths), x).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        losses.append(loss.item())
    first, last = sum(losses[:20]) / 20, sum(losses[-20:]) / 20
    assert last < 0.1 * first, (first, last)  # stated amount: the bound falls by more than 90%
    # Conditioning matters: same noise, different captions, and the drawing follows the words.
    right = 0
    for colour in range(3):
        for side in range(2):
            captions = torch.tensor([[START, COLOURS[colour], SIDES[side], END]] * 8)
            drawn = torch.sigmoid(
                model.generate(captions, torch.full((8,), 4), generator=torch.Generator().manual_seed(3)).canvases[-1]
            )
            halves = drawn[:, :, 3:9].unflatten(3, (2, 6)).mean(dim=(2, 4))  # (8, C, side)
            mass = halves[:, colour]  # (8, 2) the captioned colour in each half
            others = halves.sum(1) - mass  # (8, 2) the other colours
            right += int(((mass[:, side] > 2 * mass[:, 1 - side]) & (mass[:, side] > 2 * others[:, side])).sum())
    assert right >= 0.9 * 48, right
