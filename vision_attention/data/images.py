"""Decoding real photos into RGB without surprises.

Grayscale, RGBA, palette, CMYK and 16-bit images become 8-bit RGB; the EXIF
orientation is applied; a zero-byte, truncated or non-image file raises
:class:`BadImageError` naming the file. Pillow's decompression-bomb limit stays
on, and its error is re-raised naming the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError


class BadImageError(ValueError):
    """An image file that cannot be decoded; the message names the file."""


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit grayscale: rescale, do not clip
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(array.max()), 1.0)
        image = Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    elif image.mode == "F":
        image = Image.fromarray(np.clip(np.asarray(image) * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)  # transparent pixels on white
    return image.convert("RGB")


def load_rgb(path: str | Path) -> Image.Image:
    """The image at ``path`` as an upright 8-bit RGB PIL image.

    Raises:
        BadImageError: the file is empty, truncated, not an image, or a decompression bomb.
        FileNotFoundError: the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    if path.stat().st_size == 0:
        raise BadImageError(f"{path}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()  # decode now: a truncated file fails here, not later
                image = ImageOps.exif_transpose(image)
                return _to_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise BadImageError(f"{path}: image too large, refused as a possible decompression bomb ({err})") from err
    except UnidentifiedImageError as err:
        raise BadImageError(f"{path}: not an image Pillow can read") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise BadImageError(f"{path}: cannot decode image ({err})") from err
