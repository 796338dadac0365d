"""Sampling and reconstructing with a trained DRAW checkpoint.

``Drawer.from_checkpoint(path).sample(16, seed=0)`` returns every canvas and every
write window, ready for :func:`vision_attention.viz.drawing_gif`.

Legend: T steps, n images, C channels, H x W image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoints import load_checkpoint, model_weights
from .layers import GaussianWindow
from .models.draw import DRAW


@dataclass
class Windows:
    """Attention windows of every step, for drawing them: (T, n) tensors in pixels."""

    centre_x: torch.Tensor
    centre_y: torch.Tensor
    stride: torch.Tensor
    sigma: torch.Tensor
    n: int  # filters per side

    @classmethod
    def stack(cls, windows: list[GaussianWindow], n: int) -> "Windows":
        pick = lambda name: torch.stack([getattr(w, name).detach().cpu() for w in windows])  # noqa: E731
        return cls(pick("centre_x"), pick("centre_y"), pick("stride"), pick("sigma"), n)


@dataclass
class Drawing:
    canvases: torch.Tensor  # (T, n, C, H, W) probabilities sigmoid(c_t)
    windows: Windows | None  # write (sample) or read (reconstruct) windows; None without attention


class Drawer:
    """A DRAW model ready to draw.

    Args:
        model: the trained network.
        device: where to run.
    """

    def __init__(self, model: DRAW, device: str | torch.device = "cpu") -> None:
        self.model, self.device = model.eval().to(device), torch.device(device)

    @classmethod
    def from_checkpoint(cls, path: str | Path, map_location: str | torch.device = "cpu") -> "Drawer":
        checkpoint, info = load_checkpoint(path, map_location, ("drawer",), "a DRAW model")
        model = DRAW.from_config(info["model_config"])
        model.load_state_dict(model_weights(checkpoint))
        return cls(model, map_location)

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None) -> Drawing:
        """n images from the prior, step by step."""
        generator = None if seed is None else torch.Generator(device=self.device).manual_seed(seed)
        out = self.model.generate(n, generator=generator, device=self.device)
        windows = Windows.stack(out.write_windows, self.model.write_n) if out.write_windows else None
        return Drawing(torch.sigmoid(out.canvases).cpu(), windows)

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, seed: int | None = None) -> Drawing:
        """Reconstructions of (n, C, H, W) images in [0, 1], with the read windows."""
        generator = None if seed is None else torch.Generator(device=self.device).manual_seed(seed)
        out = self.model(images.to(self.device), generator=generator)
        windows = Windows.stack(out.read_windows, self.model.read_n) if out.read_windows else None
        return Drawing(torch.sigmoid(out.canvases).cpu(), windows)
