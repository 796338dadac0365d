"""Pictures of attention, drawn with Pillow: per-word attention overlays for captions
(as in the figures of Xu et al. 2015).

Legend: T words, h x w attention grid, H x W image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont


def _font(size: int = 12) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size default font
        return ImageFont.load_default()


def upsample(alpha: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """An (h, w) attention map resized bilinearly to (H, W) and scaled to [0, 1]."""
    up = F.interpolate(alpha[None, None].float(), size=size, mode="bilinear", align_corners=False)[0, 0]
    up = up - up.min()
    return (up / up.max().clamp_min(1e-12)).numpy()


def overlay(image: Image.Image, alpha: torch.Tensor) -> Image.Image:
    """The image lit where the map is high and dimmed elsewhere."""
    heat = upsample(alpha, (image.height, image.width))[..., None]  # (H, W, 1)
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    lit = pixels * (0.25 + 0.75 * heat) + 255 * 0.25 * heat  # brighten attended regions
    return Image.fromarray(np.clip(lit, 0, 255).astype(np.uint8))


def attention_figure(
    image: Image.Image,
    words: Sequence[str],
    alphas: torch.Tensor,
    panel: int = 160,
    columns: int = 6,
) -> Image.Image:
    """The image and one panel per word with its attention overlaid.

    Args:
        image: the captioned image.
        words: the caption's words (an <end> panel is added when alphas has one more step).
        alphas: (T, h, w) attention when each word was generated.
        panel: side of each panel in pixels.
        columns: panels per row.
    """
    words = list(words) + (["<end>"] if alphas.shape[0] > len(words) else [])
    base = image.convert("RGB").resize((panel, panel), Image.BILINEAR)
    labels = [" ".join(words[:-1] if words[-1] == "<end>" else words)] + words
    tiles = [base] + [overlay(base, alphas[t]) for t in range(len(words))]
    rows = math.ceil(len(tiles) / columns)
    label_h = 18
    sheet = Image.new("RGB", (columns * panel, rows * (panel + label_h)), "white")
    draw, font = ImageDraw.Draw(sheet), _font()
    for i, (tile, label) in enumerate(zip(tiles, labels)):
        x, y = (i % columns) * panel, (i // columns) * (panel + label_h)
        sheet.paste(tile, (x, y))
        text = label if len(label) < panel // 6 else label[: panel // 6 - 1] + "…"
        draw.text((x + 3, y + panel + 2), text, fill="black", font=font)
    return sheet


def save_attention_figure(path: str | Path, image: Image.Image, words: Sequence[str], alphas: torch.Tensor) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    attention_figure(image, words, alphas).save(path)
    return path
