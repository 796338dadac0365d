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

from ..files.outputs import write_atomically


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
    return write_atomically(path, lambda tmp: attention_figure(image, words, alphas).save(tmp, format="PNG"))


def _grid(images: torch.Tensor, columns: int, scale: int) -> Image.Image:
    """(n, C, H, W) in [0, 1] -> one RGB image, scaled up by ``scale``."""
    n, channels, height, width = images.shape
    rows = math.ceil(n / columns)
    sheet = Image.new("RGB", (columns * (width * scale + 2), rows * (height * scale + 2)), (40, 40, 40))
    for i in range(n):
        array = (images[i].clamp(0, 1) * 255).byte().permute(1, 2, 0).numpy()
        tile = Image.fromarray(array[..., 0] if channels == 1 else array).convert("RGB")
        tile = tile.resize((width * scale, height * scale), Image.NEAREST)
        sheet.paste(tile, ((i % columns) * (width * scale + 2) + 1, (i // columns) * (height * scale + 2) + 1))
    return sheet


def _draw_windows(frame: Image.Image, windows, step: int, shape: tuple[int, int], columns: int, scale: int) -> None:
    """Outline each image's attention window: from the first to the last filter centre."""
    height, width = shape
    draw = ImageDraw.Draw(frame)
    half = (windows.n - 1) / 2
    for i in range(windows.centre_x.shape[1]):
        cx, cy = float(windows.centre_x[step, i]), float(windows.centre_y[step, i])
        span = max(half * float(windows.stride[step, i]), 0.5)
        ox, oy = (i % columns) * (width * scale + 2) + 1, (i // columns) * (height * scale + 2) + 1
        # pixel coordinates are 1-indexed in the filterbank: pixel a covers [a - 1, a) on screen
        x0, y0 = ox + (cx - span - 0.5) * scale, oy + (cy - span - 0.5) * scale
        x1, y1 = ox + (cx + span - 0.5) * scale, oy + (cy + span - 0.5) * scale
        # A window may reach past the canvas: draw only its edges that lie on this image's tile,
        # cut to it, so that no outline runs into a neighbour's tile.
        right, bottom = ox + width * scale - 1, oy + height * scale - 1
        left_x, right_x, top_y, bottom_y = max(x0, ox), min(x1, right), max(y0, oy), min(y1, bottom)
        for y in (y0, y1):  # the top and bottom edges
            if oy <= y <= bottom and left_x <= right_x:
                draw.line([(left_x, y), (right_x, y)], fill=(255, 60, 60), width=max(1, scale // 3))
        for x in (x0, x1):  # the left and right edges
            if ox <= x <= right and top_y <= bottom_y:
                draw.line([(x, top_y), (x, bottom_y)], fill=(255, 60, 60), width=max(1, scale // 3))


def words_band(frame: Image.Image, words: Sequence[str], weights: torch.Tensor | None) -> Image.Image:
    """The frame above its caption, each word on an orange background as strong as its
    attention weight (scaled to the step's largest); ``weights`` None leaves them plain."""
    font = _font(12)
    measure = ImageDraw.Draw(frame)
    gap, line_h = 4, 18
    lines, x = [[]], 0
    for i, word in enumerate(words):  # wrap to the frame's width
        w = int(measure.textlength(word, font=font)) + 4
        if lines[-1] and x + w > frame.width - 4:
            lines.append([])
            x = 0
        lines[-1].append((i, word, x, w))
        x += w + gap
    out = Image.new("RGB", (frame.width, frame.height + len(lines) * line_h + 4), "white")
    out.paste(frame, (0, 0))
    draw = ImageDraw.Draw(out)
    top = float(weights.max()) if weights is not None else 0.0
    for row, line in enumerate(lines):
        y = frame.height + 2 + row * line_h
        for i, word, x, w in line:
            strength = float(weights[i]) / top if top > 0 else 0.0
            fill = tuple(round(255 - strength * (255 - c)) for c in (255, 140, 0))
            draw.rectangle([x + 2, y, x + 2 + w, y + line_h - 2], fill=fill)
            draw.text((x + 4, y + 2), word, fill="black", font=font)
    return out


def drawing_frames(drawing, columns: int | None = None, scale: int = 3) -> list[Image.Image]:
    """One frame per step, plus the blank first one, with the windows outlined; for a
    drawing from a caption, the caption under each frame with the words the step attended
    (the weights averaged over the images) highlighted."""
    canvases = drawing.canvases  # (T, n, C, H, W)
    steps, n, channels, height, width = canvases.shape
    columns = columns or math.ceil(math.sqrt(n))
    words = getattr(drawing, "words", None)
    frames = [_grid(torch.zeros(n, channels, height, width), columns, scale)]
    if words:
        frames[0] = words_band(frames[0], words, None)
    for t in range(steps):
        frame = _grid(canvases[t], columns, scale)
        if drawing.windows is not None:
            _draw_windows(frame, drawing.windows, t, (height, width), columns, scale)
        if words:
            frame = words_band(frame, words, drawing.word_weights[t].mean(0))
        frames.append(frame)
    return frames


def drawing_gif(
    drawing,
    path: str | Path,
    duration_ms: int = 80,
    loop: int = 0,
    columns: int | None = None,
    scale: int = 3,
    hold_last_ms: int = 1500,
) -> Path:
    """An animated GIF of a drawing: a frame per step (plus the first), windows in red.

    Args:
        drawing: from ``Drawer.sample`` or ``Drawer.reconstruct``.
        path: the .gif to write.
        duration_ms: time per frame.
        loop: 0 loops forever; k plays k + 1 times.
        columns: images per row (default: a square grid).
        scale: pixels per image pixel.
        hold_last_ms: how long the finished drawing stays.
    """
    frames = drawing_frames(drawing, columns, scale)
    durations = [duration_ms] * (len(frames) - 1) + [hold_last_ms]
    return write_atomically(
        path,
        lambda tmp: frames[0].save(
            tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=loop, disposal=1
        ),
    )


def drawing_strip(
    drawing, path: str | Path, steps: Sequence[int] | None = None, scale: int = 3, originals: torch.Tensor | None = None
) -> Path:
    """A PNG row per image of selected steps (default: 8 evenly spaced, the last included),
    each with the window of that step in red; ``originals`` (n, C, H, W), the images a
    reconstruction redraws, come first in each row."""
    canvases = drawing.canvases
    total, _, _, height, width = canvases.shape
    steps = list(steps) if steps is not None else sorted({round(i * (total - 1) / 7) for i in range(8)})
    frames = [] if originals is None else [_grid(originals.cpu(), 1, scale)]
    for t in steps:
        frames.append(_grid(canvases[t], 1, scale))
        if drawing.windows is not None:
            _draw_windows(frames[-1], drawing.windows, t, (height, width), 1, scale)
    strip = Image.new("RGB", (sum(f.width for f in frames), frames[0].height), "white")
    x = 0
    for frame in frames:
        strip.paste(frame, (x, 0))
        x += frame.width
    return write_atomically(path, lambda tmp: strip.save(tmp, format="PNG"))


# ----- text: per-token weights and source x target alignments -------------------------
def token_weights_html(tokens: Sequence[str], weights: Sequence[float], title: str = "") -> str:
    """An HTML fragment with each token's background as strong as its attention weight
    (scaled to the sentence's largest weight); the weight shows on hover."""
    import html

    top = max(max(weights, default=0.0), 1e-12)
    spans = [
        f'<span title="{w:.3f}" style="background: rgba(255, 140, 0, {w / top:.3f}); padding: 1px 2px">'
        f"{html.escape(token)}</span>"
        for token, w in zip(tokens, weights)
    ]
    heading = f"<div><b>{html.escape(title)}</b></div>" if title else ""
    return f'<div style="font-family: sans-serif; line-height: 1.8">{heading}{" ".join(spans)}</div>'


def alignment_image(source: Sequence[str], target: Sequence[str], alphas: torch.Tensor, cell: int = 18) -> Image.Image:
    """The source x target alignment heatmap (as in Bahdanau et al. 2015, figure 3): one
    row per target token, one column per source token, darker = more attention.

    Args:
        source: source tokens (columns).
        target: target tokens (rows).
        alphas: (len(target), >= len(source)) attention weights.
        cell: side of one cell in pixels.
    """
    weights = alphas[: len(target), : len(source)].float().clamp(0, 1).numpy()
    font_size = max(cell - 6, 8)
    margin_left = max(cell * 2, 8 + font_size * max((len(t) for t in target), default=1) * 2 // 3)
    margin_top = cell * 2
    image = Image.new("RGB", (margin_left + cell * len(source), margin_top + cell * len(target)), "white")
    draw, font = ImageDraw.Draw(image), _font(font_size)
    for i, token in enumerate(target):
        draw.text((4, margin_top + i * cell + 2), token, fill="black", font=font)
        for j in range(len(source)):
            shade = int(255 * (1 - weights[i, j]))
            x, y = margin_left + j * cell, margin_top + i * cell
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=(shade, shade, shade))
    for j, token in enumerate(source):
        draw.text((margin_left + j * cell + cell // 3, 4), token if token != " " else "_", fill="black", font=font)
    return image


# ----- a self-contained HTML page of captioned photos ---------------------------------
def _data_uri(image: Image.Image, quality: int = 85) -> str:
    """The image as a JPEG ``data:`` URI, so the page needs no other file."""
    import base64
    import io

    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def caption_section(
    name: str,
    image: Image.Image,
    words: Sequence[str],
    alphas: torch.Tensor,
    photo_side: int = 360,
    panel: int = 140,
    guidance: dict | None = None,
) -> str:
    """One photo's part of :func:`caption_page`: the photo, its caption, and one panel per
    word (and ``<end>`` when ``alphas`` has that step) with that word's attention overlaid;
    with ``guidance`` (``Guidance.as_dict()``), what guided the caption: each constraint word,
    its evidence and whether the caption met it, and the animals ruled out."""
    import html

    words = list(words) + (["<end>"] if alphas.shape[0] > len(words) else [])
    rgb = image.convert("RGB")
    photo = rgb.copy()
    photo.thumbnail((photo_side, photo_side), Image.BILINEAR)
    # The model sees the whole photo squeezed to a square, so each map spans the whole photo,
    # shown at its own aspect, within a quarter to four times the panel's width (a 1 x 30000
    # photo would make panels of millions of pixels).
    height = min(max(round(panel * image.height / image.width), panel // 4), 4 * panel)
    base = rgb.resize((panel, height), Image.BILINEAR)
    panels = "".join(
        f"<figure><img src='{_data_uri(overlay(base, alphas[t]))}' width={panel} height={height} "
        f"alt='attention for {html.escape(word)}'><figcaption>{html.escape(word)}</figcaption></figure>"
        for t, word in enumerate(words)
    )
    caption = " ".join(w for w in words if w != "<end>")
    return (
        f"<section><h2>{html.escape(name)}</h2><img class=photo src='{_data_uri(photo)}' alt='{html.escape(name)}'>"
        f"<p class=caption>{html.escape(caption)}</p>{_guidance_note(guidance)}"
        f"<div class=panels>{panels}</div></section>"
    )


def _guidance_note(guidance: dict | None) -> str:
    """One line under a caption: what the backbone's classifier asked of it."""
    import html

    if guidance is None:
        return ""
    parts = []
    for c in guidance["constraints"]:
        said = "said" if c["met"] else "not said"
        words = " / ".join(c["accepts"])
        parts.append(
            f"asked for <b>{html.escape(c['word'])}</b> ({html.escape(words)}; evidence {c['evidence']:.2f}, {said})"
        )
    if guidance.get("gave_up"):
        parts.append(f"gave up: {html.escape(guidance['gave_up'])}")
    if guidance["banned"]:
        shown = ", ".join(guidance["banned"][:8]) + (" ..." if len(guidance["banned"]) > 8 else "")
        parts.append(f"ruled out {len(guidance['banned'])} animal words ({html.escape(shown)})")
    return f"<p class=guide>{'; '.join(parts) or 'no guidance: the classifier was not sure of anything'}</p>"


def caption_page(sections: Sequence[str], title: str = "Captions and attention") -> str:
    """A whole HTML page from :func:`caption_section` parts: every image inlined, no script,
    so it opens from disk, by mail or on a machine without the package."""
    import html

    style = (
        "body{font-family:sans-serif;margin:2em;color:#222}section{margin-bottom:2.5em}"
        ".photo{max-width:100%;display:block}.caption{font-size:1.3em;margin:.5em 0}"
        ".panels{display:flex;flex-wrap:wrap;gap:6px}figure{margin:0;text-align:center}"
        "figcaption{font-size:.9em}.guide{color:#555;margin:.2em 0 .6em}"
    )
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{style}</style><body><h1>{html.escape(title)}</h1>\n" + "\n".join(sections) + "\n</body></html>\n"
    )
