"""DRAW's selective attention: a grid of N x N Gaussian filters (Gregor et al. 2015,
"DRAW: A Recurrent Neural Network For Image Generation",
https://arxiv.org/abs/1502.04623, section 3.2, eq. 19-29).

From a hidden vector h, a linear layer emits (g~X, g~Y, log sigma^2, log delta~, log gamma):

    gX = (A + 1) / 2 * (g~X + 1),   gY = (B + 1) / 2 * (g~Y + 1)
    delta = (max(A, B) - 1) / (N - 1) * delta~
    mu_X^i = gX + (i - N/2 - 0.5) delta,   mu_Y^j = gY + (j - N/2 - 0.5) delta,   i, j = 1..N
    F_X[i, a] = exp(-(a - mu_X^i)^2 / (2 sigma^2)) / Z_X   (rows sum to 1)

read(x, x_hat) = gamma [F_Y x F_X^T, F_Y x_hat F_X^T]; write(w) = 1/gamma F_Y^T w F_X.
Pixel coordinates a run from 1 to A, so that (A + 1) / 2 is the exact centre
and N = A, delta = 1 puts filter i on pixel i. A is the width, B the height.
The filters are shared by all channels.

Legend: Bt batch, C channels, H = B height, W = A width, N filters per side, Dh hidden size.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

_EPS = 1e-8  # guards the filter normalisation when every filter value underflows


class GaussianWindow(NamedTuple):
    """One attention window per example: the parameters and their filterbanks."""

    centre_x: Tensor  # (Bt,) gX in pixels, 1-indexed
    centre_y: Tensor  # (Bt,) gY
    stride: Tensor  # (Bt,) delta, pixels between filter centres
    sigma: Tensor  # (Bt,) filter standard deviation in pixels
    gamma: Tensor  # (Bt,) intensity
    filter_x: Tensor  # (Bt, N, W) F_X
    filter_y: Tensor  # (Bt, N, H) F_Y


def filterbank(centre: Tensor, stride: Tensor, sigma2: Tensor, n: int, size: int) -> Tensor:
    """Row-normalised Gaussian filters along one axis (eq. 25-26).

    Args:
        centre: (Bt,) grid centre g in pixels.
        stride: (Bt,) delta.
        sigma2: (Bt,) variance.
        n: number of filters N.
        size: image size along the axis (A or B).

    Returns:
        (Bt, N, size).
    """
    offsets = torch.arange(1, n + 1, device=centre.device, dtype=centre.dtype) - n / 2 - 0.5  # (N,)
    mu = centre.unsqueeze(1) + offsets * stride.unsqueeze(1)  # (Bt, N)
    pixels = torch.arange(1, size + 1, device=centre.device, dtype=centre.dtype)  # (size,)
    filters = torch.exp(-(pixels - mu.unsqueeze(2)).square() / (2 * sigma2[:, None, None]))  # (Bt, N, size)
    return filters / filters.sum(dim=2, keepdim=True).clamp_min(_EPS)


def place_window(params: Tensor, height: int, width: int, n: int, scale: float = 1.0) -> GaussianWindow:
    """The window of eq. 21-26 from the raw emitted parameters.

    Args:
        params: (Bt, 5) = (g~X, g~Y, log sigma^2, log delta~, log gamma).
        height, width: the grid the filters cover (B, A).
        n: filters per side N.
        scale: multiplies sigma, for placing the same window on a grid ``scale`` times the
            size of the one the parameters were learnt for (a CNN feature map of the image).
    """
    gx_, gy_, log_sigma2, log_delta_, log_gamma = params.unbind(-1)  # 5 x (Bt,)
    centre_x = (width + 1) / 2 * (gx_ + 1)
    centre_y = (height + 1) / 2 * (gy_ + 1)
    stride = (max(width, height) - 1) / max(n - 1, 1) * torch.exp(log_delta_)
    sigma2 = torch.exp(log_sigma2) * scale**2
    if height == width:  # one call builds both axes
        both = filterbank(torch.cat([centre_x, centre_y]), stride.repeat(2), sigma2.repeat(2), n, width)
        filter_x, filter_y = both.chunk(2)
    else:
        filter_x = filterbank(centre_x, stride, sigma2, n, width)  # (Bt, N, W)
        filter_y = filterbank(centre_y, stride, sigma2, n, height)  # (Bt, N, H)
    return GaussianWindow(centre_x, centre_y, stride, sigma2.sqrt(), torch.exp(log_gamma), filter_x, filter_y)


def tiling_bias(height: int, width: int, n: int) -> Tensor:
    """Raw parameters (eq. 21-24) of a centred window whose N filters tile the image: a
    stride of max(A, B) / N and sigma half a stride. The paper does not say how the
    window starts; with a zero bias (stride (max(A, B) - 1) / (N - 1), sigma 1) a small
    read grid sees only a few pixels at the image's edges, and training stalls for the
    hundreds of steps the windows take to find the digit (binarized MNIST, read 2 x 2:
    val bound 201 against 167 after 900 steps)."""
    side = max(height, width)
    stride = side / n
    return torch.tensor(
        [0.0, 0.0, 2 * math.log(stride / 2), math.log(stride / (max(side - 1, 1) / max(n - 1, 1))), 0.0]
    )


class GaussianAttention(nn.Module):
    """An N x N grid of Gaussian filters placed by a hidden vector.

    Args:
        hidden_dim: size Dh of the vector that places the window.
        height: image height B.
        width: image width A.
        n: filters per side N.
    """

    def __init__(self, hidden_dim: int, height: int, width: int, n: int) -> None:
        super().__init__()
        self.height, self.width, self.n = height, width, n
        self.params = nn.Linear(hidden_dim, 5)
        with torch.no_grad():  # the window a zero state places: see tiling_bias
            self.params.bias.copy_(tiling_bias(height, width, n))

    def window(self, h: Tensor) -> GaussianWindow:
        """Place the window: (Bt, Dh) -> :class:`GaussianWindow` (eq. 21-26)."""
        return place_window(self.params(h), self.height, self.width, self.n)

    @staticmethod
    def glimpse(image: Tensor, window: GaussianWindow) -> Tensor:
        """gamma F_Y x F_X^T for every channel: (Bt, C, H, W) -> (Bt, C, N, N)."""
        fy = window.filter_y.unsqueeze(1)  # (Bt, 1, N, H)
        fx_t = window.filter_x.transpose(1, 2).unsqueeze(1)  # (Bt, 1, W, N)
        return fy @ image @ fx_t * window.gamma[:, None, None, None]  # (Bt, C, N, N)

    def read(self, x: Tensor, x_hat: Tensor | None, h: Tensor) -> tuple[Tensor, GaussianWindow]:
        """DRAW's read with attention (eq. 27).

        Args:
            x: (Bt, C, H, W) image.
            x_hat: (Bt, C, H, W) error image, or ``None`` to read ``x`` alone.
            h: (Bt, Dh) the previous decoder state.

        Returns:
            ``(glimpses, window)``: (Bt, 2*C*N*N) (or C*N*N without ``x_hat``) and the window.
        """
        window = self.window(h)
        images = x if x_hat is None else torch.cat([x, x_hat], dim=1)  # (Bt, 2C, H, W)
        return self.glimpse(images, window).flatten(1), window

    forward = read

    def write(self, patch: Tensor, h: Tensor) -> tuple[Tensor, GaussianWindow]:
        """DRAW's write with attention (eq. 29).

        Args:
            patch: (Bt, C, N, N) the patch w_t to write.
            h: (Bt, Dh) the decoder state.

        Returns:
            ``(image, window)``: (Bt, C, H, W) and the window.
        """
        window = self.window(h)
        return self.paint(patch, window), window

    @staticmethod
    def paint(patch: Tensor, window: GaussianWindow) -> Tensor:
        """1/gamma F_Y^T w F_X for every channel: (Bt, C, N, N) -> (Bt, C, H, W)."""
        fy_t = window.filter_y.transpose(1, 2).unsqueeze(1)  # (Bt, 1, H, N)
        fx = window.filter_x.unsqueeze(1)  # (Bt, 1, N, W)
        return fy_t @ patch @ fx / window.gamma[:, None, None, None]  # (Bt, C, H, W)
