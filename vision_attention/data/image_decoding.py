"""Decoding real photos into RGB without surprises.

Grayscale, RGBA, palette, CMYK and 16-bit images become 8-bit RGB; the EXIF
orientation is applied; a zero-byte, truncated or non-image file raises
:class:`BadImageError` naming the file. Pillow's decompression-bomb limit stays
on, and its error is re-raised naming the file.
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import default_collate


class BadImageError(ValueError):
    """An image file that cannot be decoded; the message names the file."""


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; as it is when that block is malformed (a
    photo with a broken EXIF block is still a photo). The result holds no EXIF, so turning it
    again is a no-op."""
    try:
        image = ImageOps.exif_transpose(image)
    except (SyntaxError, ValueError, OSError, KeyError, IndexError, TypeError, struct.error):  # broken EXIF
        image = image.copy()
    image.info.pop("exif", None)
    return image


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


def as_rgb(image: str | Path | Image.Image | np.ndarray | torch.Tensor) -> Image.Image:
    """Any image a user hands over as an upright 8-bit RGB PIL image, by one path for all: a
    file (see :func:`load_rgb`), a PIL image, or an (H, W[, C]) array / (C, H, W) tensor with
    C in 1, 3, 4. Arrays and tensors are uint8 (0-255), uint16 (0-65535) or float in [0, 1];
    every kind then meets the same 16-bit rescaling and alpha compositing (on white) as
    files, and PIL images the same EXIF orientation."""
    if isinstance(image, (str, Path)):
        return load_rgb(image)
    if isinstance(image, Image.Image):
        return _to_rgb(_upright(image))
    if isinstance(image, torch.Tensor):
        if image.dim() != 3 or image.shape[0] not in (1, 3, 4):
            raise ValueError(f"expected an image tensor (C, H, W) with C in 1, 3, 4, got shape {tuple(image.shape)}")
        image = image.detach().cpu().permute(1, 2, 0).numpy()
    if isinstance(image, np.ndarray):
        return _to_rgb(_array_image(image))
    raise TypeError(f"expected an image path, PIL image, tensor or array, got {type(image).__name__}")


def _array_image(array: np.ndarray) -> Image.Image:
    """An (H, W[, C]) array as a PIL image of its own depth (8 or 16 bit), alpha kept."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ValueError(f"expected an image array (H, W) or (H, W, C) with C in 1, 3, 4, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.floating):
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0 or not np.isfinite(array).all():
            raise ValueError(
                f"float image values must lie in [0, 1], got [{low:.3g}, {high:.3g}] (divide 0-255 images by 255)"
            )
        array = (array * 255.0 + 0.5).astype(np.uint8)
    elif array.dtype == np.uint16:
        if array.ndim == 2:
            return Image.fromarray(array)  # mode I;16, rescaled by _to_rgb as a 16-bit file is
        array = (array.astype(np.float64) / 65535.0 * 255.0 + 0.5).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ValueError(f"image values must be uint8 (0-255), uint16 (0-65535) or float (0-1), got {array.dtype}")
    return Image.fromarray(np.ascontiguousarray(array))


def to_model_input(image: Image.Image, size: int) -> torch.Tensor:
    """The (3, size, size) float tensor in [0, 1] that captioners read: the image squashed to
    size x size with Pillow's bilinear filter (as the data sets' photos were; the backbone
    normalises). Training and :class:`~vision_attention.Captioner` both come through here."""
    if image.size != (size, size):
        image = image.resize((size, size), Image.BILINEAR)
    array = np.asarray(image, dtype=np.float32) / 255.0  # (H, W, 3)
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()  # (3, H, W)


class ImageTransform:
    """What an image goes through before a model reads it, as a callable (a shipped model's
    ``transforms()``): any image :func:`as_rgb` takes -> a (C, H, W) float tensor in [0, 1],
    squashed to ``size`` with Pillow's bilinear filter (:func:`to_model_input`); with one
    ``channels`` it is converted to grayscale, and ``binarize`` thresholds it at 0.5.

    Args:
        size: the side, or (height, width).
        channels: 3 (RGB) or 1 (grayscale).
        binarize: threshold at 0.5, for models trained on binary images.
    """

    def __init__(self, size: int | tuple[int, int], channels: int = 3, binarize: bool = False) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.channels, self.binarize = channels, binarize

    def __call__(self, image) -> torch.Tensor:
        image = as_rgb(image)
        height, width = self.size
        if height == width and self.channels == 3 and not self.binarize:
            return to_model_input(image, height)
        if image.size != (width, height):
            image = image.resize((width, height), Image.BILINEAR)
        if self.channels == 1:
            image = image.convert("L")
        array = np.asarray(image, dtype=np.float32).reshape(height, width, self.channels) / 255.0
        tensor = torch.from_numpy(array).permute(2, 0, 1).contiguous()  # (C, H, W)
        return (tensor > 0.5).float() if self.binarize else tensor

    def __repr__(self) -> str:
        colour = "RGB" if self.channels == 3 else "grayscale"
        extra = ", thresholded at 0.5" if self.binarize else ""
        return (
            f"ImageTransform({colour}, resized to {self.size[0]} x {self.size[1]} with bilinear filtering "
            f"(aspect ratio not kept), scaled to [0, 1]{extra})"
        )


def load_rgb(path: str | Path, max_side: int | None = None) -> Image.Image:
    """The image at ``path`` as an upright 8-bit RGB PIL image; with ``max_side``, shrunk to at
    most that many pixels on its longer side (a JPEG is decoded at a reduced scale directly), so
    that a huge photo costs its full size only while it is decoded.

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
                if max_side is not None and image.format == "JPEG":
                    image.draft("RGB", (max_side, max_side))  # DCT scaling: at least this large, less memory
                image.load()  # decode now: a truncated file fails here, not later
                if max_side is not None and image.mode in _SHRINKABLE:  # shrink before any copy is made
                    image = _shrunk(image, max_side)
                image = _to_rgb(_upright(image))
            return image if max_side is None else _shrunk(image, max_side)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise BadImageError(f"{path}: image too large, refused as a possible decompression bomb ({err})") from err
    except UnidentifiedImageError as err:
        raise BadImageError(f"{path}: not an image Pillow can read") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise BadImageError(f"{path}: cannot decode image ({err})") from err


_SHRINKABLE = ("RGB", "RGBA", "L", "LA", "CMYK", "YCbCr")  # modes Pillow resizes with a bilinear filter


def _shrunk(image: Image.Image, max_side: int) -> Image.Image:
    """``image`` at most ``max_side`` pixels on its longer side (EXIF kept for _upright)."""
    if max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    small = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BILINEAR)
    small.info = dict(image.info)
    return small


def collate_images(items: list[dict]) -> dict:
    """Items ``{"image"[, "label"]}`` -> a batch ``{"images": (B, C, H, W)[, "labels": (B,)]}``:
    the plural keys every family's batches use."""
    batch = default_collate(items)
    return {"images" if k == "image" else "labels" if k == "label" else k: v for k, v in batch.items()}
