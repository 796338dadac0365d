import math

import torch

from tests.helpers import assert_every_parameter_gets_gradient
from vision_attention.layers import GaussianAttention


def placed(attn, gx_=0.0, gy_=0.0, log_sigma2=0.0, log_delta_=0.0, log_gamma=0.0):
    """Fix the window: zero weights, the bias holds (g~X, g~Y, log sigma^2, log delta~, log gamma)."""
    with torch.no_grad():
        attn.params.weight.zero_()
        attn.params.bias.copy_(torch.tensor([gx_, gy_, log_sigma2, log_delta_, log_gamma]))
    return attn


def test_filterbank_against_a_hand_computed_example():
    # A = B = 5, N = 3, centre (3, 3), delta = (5-1)/(3-1) = 2, sigma^2 = 1, gamma = e^0.5.
    attn = placed(GaussianAttention(2, 5, 5, 3).double(), log_gamma=0.5)
    window = attn.window(torch.zeros(1, 2, dtype=torch.float64))
    assert window.centre_x.item() == 3.0 and window.centre_y.item() == 3.0
    assert window.stride.item() == 2.0 and window.sigma.item() == 1.0
    # Filter centres mu^i = 3 + (i - 1.5 - 0.5) * 2 = 1, 3, 5; F[i, a] ~ exp(-(a - mu^i)^2 / 2), a = 1..5.
    unnormalised = torch.tensor(
        [[math.exp(-((a - mu) ** 2) / 2) for a in range(1, 6)] for mu in (1, 3, 5)], dtype=torch.float64
    )
    expected = unnormalised / unnormalised.sum(1, keepdim=True)
    torch.testing.assert_close(window.filter_x[0], expected)
    torch.testing.assert_close(window.filter_y[0], expected)
    image = torch.arange(25, dtype=torch.float64).view(1, 1, 5, 5)
    glimpse, _ = attn.read(image, None, torch.zeros(1, 2, dtype=torch.float64))
    torch.testing.assert_close(glimpse.view(3, 3), math.exp(0.5) * expected @ image[0, 0] @ expected.T)


def test_rectangular_centre_and_stride_follow_the_paper():
    # A = 7 (width), B = 4 (height), N = 4: gX = (A+1)/2 (g~X+1), delta = (max(A,B)-1)/(N-1) delta~.
    attn = placed(GaussianAttention(2, 4, 7, 4), gx_=0.5, gy_=-0.5, log_delta_=math.log(0.5))
    window = attn.window(torch.zeros(1, 2))
    torch.testing.assert_close(window.centre_x, torch.tensor([4.0 * 1.5]))
    torch.testing.assert_close(window.centre_y, torch.tensor([2.5 * 0.5]))
    torch.testing.assert_close(window.stride, torch.tensor([6 / 3 * 0.5]))
    assert window.filter_x.shape == (1, 4, 7) and window.filter_y.shape == (1, 4, 4)
    torch.testing.assert_close(window.filter_x.sum(-1), torch.ones(1, 4))


def test_read_with_n_equal_to_image_size_returns_the_image():
    attn = placed(GaussianAttention(3, 6, 6, 6).double(), log_sigma2=-6.0)  # delta = 1, tiny sigma
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    x_hat = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    glimpses, window = attn.read(x, x_hat, torch.zeros(2, 3, dtype=torch.float64))
    assert glimpses.shape == (2, 2 * 3 * 36)
    torch.testing.assert_close(window.stride, torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(glimpses.view(2, 6, 6, 6), torch.cat([x, x_hat], 1), atol=1e-6, rtol=0)


def test_reading_a_written_patch_at_the_same_window_returns_the_patch():
    # N = 4 filters on pixels 2, 4, 6, 8 across and 1, 3, 5, 7 down a 7 x 9 image
    # (delta = 8/3 delta~ = 2). read(write(w)) = (F_Y F_Y^T) w (F_X F_X^T): the patch
    # blurred by the filters' overlap, which vanishes as sigma shrinks.
    h = torch.zeros(2, 2, dtype=torch.float64)
    patch = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    for sigma, atol in ((0.5, None), (0.2, 1e-4)):
        attn = placed(
            GaussianAttention(2, 7, 9, 4).double(),
            log_sigma2=math.log(sigma**2),
            log_delta_=math.log(2 / (8 / 3)),
            log_gamma=0.3,
        )
        canvas, window = attn.write(patch, h)
        assert canvas.shape == (2, 3, 7, 9)
        glimpse, _ = attn.read(canvas, None, h)
        glimpse = glimpse.view(2, 3, 4, 4)
        fy, fx = window.filter_y.unsqueeze(1), window.filter_x.unsqueeze(1)
        torch.testing.assert_close(glimpse, fy @ fy.transpose(-1, -2) @ patch @ fx @ fx.transpose(-1, -2))
        if atol is not None:
            torch.testing.assert_close(glimpse, patch, atol=atol, rtol=0)


def test_channels_are_read_independently_with_one_filterbank():
    torch.manual_seed(0)
    attn = GaussianAttention(5, 6, 8, 3)
    h, x = torch.randn(2, 5), torch.rand(2, 3, 6, 8)
    together, _ = attn.read(x, None, h)
    for c in range(3):
        alone, _ = attn.read(x[:, c : c + 1], None, h)
        torch.testing.assert_close(together.view(2, 3, 9)[:, c], alone)


def test_gaussian_gradcheck_and_gradients():
    torch.manual_seed(0)
    attn = GaussianAttention(3, 5, 4, 2).double()
    h = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    x = torch.rand(2, 1, 5, 4, dtype=torch.float64, requires_grad=True)
    patch = torch.rand(2, 1, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: attn.read(a, a * 0.5, b)[0], (x, h))
    assert torch.autograd.gradcheck(lambda p, b: attn.write(p, b)[0], (patch, h))
    assert_every_parameter_gets_gradient(attn, attn.read(x, None, h)[0].sum() + attn.write(patch, h)[0].square().sum())


def test_far_away_windows_give_zeros_not_nan():
    attn = placed(GaussianAttention(2, 5, 5, 3), gx_=50.0, log_sigma2=-8.0)
    glimpse, window = attn.read(torch.rand(1, 1, 5, 5), None, torch.zeros(1, 2))
    assert torch.isfinite(glimpse).all() and torch.isfinite(window.filter_x).all()


def test_a_new_window_is_centred_and_its_filters_tile_the_image():
    """A zero state places the window DRAW starts from: centred, stride max(A, B) / N,
    sigma half a stride, so every pixel is read (the zero bias reads only the edges)."""
    for height, width, n in ((28, 28, 2), (28, 28, 5), (12, 20, 3), (9, 9, 1)):
        attn = GaussianAttention(4, height, width, n)
        window = attn.window(torch.zeros(1, 4))
        side = max(height, width)
        torch.testing.assert_close(window.centre_x, torch.tensor([(width + 1) / 2]))
        torch.testing.assert_close(window.centre_y, torch.tensor([(height + 1) / 2]))
        if n > 1:
            torch.testing.assert_close(window.stride, torch.tensor([side / n]))
        torch.testing.assert_close(window.sigma, torch.tensor([side / n / 2]))
        coverage = window.filter_x.amax(1)  # (1, W): the strongest filter at each pixel
        assert coverage.min() > 0.01 * coverage.max(), (height, width, n)
    edges_only = placed(GaussianAttention(4, 28, 28, 2)).window(torch.zeros(1, 4))  # the zero bias
    assert edges_only.filter_x.amax(1).min() < 1e-6
