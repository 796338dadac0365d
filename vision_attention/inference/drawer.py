"""Sampling and reconstructing with a trained DRAW or alignDRAW model.

``Drawer.from_pretrained("draw-bmnist").sample(16, seed=0)`` returns every canvas and every
write window, ready for :func:`vision_attention.viz.drawing_gif`; an alignDRAW model
draws from text: ``.sample(8, caption="a large red circle")``, with the attention over
the caption's words at every step.

Legend: T steps, n images, C channels, H x W image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.caption_sets import pad_captions
from ..files.checkpoints import CheckpointError
from ..kinds import Kind, default_model
from ..layers import GaussianWindow
from ..models.aligndraw import AlignDRAW, aligndraw_loss
from ..models.draw import DRAW, draw_loss
from ..resources import check_int, require_memory
from ..vocab import Vocabulary, tokenize
from .loading import build, load_trained, save_trained

DEFAULT = default_model(Kind.DRAWER)  # what from_pretrained loads when given no model

MAX_CAPTION_WORDS = 32  # alignDRAW and its judge were trained on captions of 7 to 12 words


@dataclass
class Windows:
    """Attention windows of every step, for drawing them: (T, n) tensors in pixels."""

    centre_x: torch.Tensor
    centre_y: torch.Tensor
    stride: torch.Tensor
    sigma: torch.Tensor
    n: int  # filters per side

    @classmethod
    def stack(cls, windows: list[GaussianWindow], n: int) -> Windows:
        pick = lambda name: torch.stack([getattr(w, name).detach().cpu() for w in windows])
        return cls(pick("centre_x"), pick("centre_y"), pick("stride"), pick("sigma"), n)


@dataclass
class Drawing:
    canvases: torch.Tensor  # (T, n, C, H, W) probabilities sigmoid(c_t)
    windows: Windows | None  # write (sample) or the chosen (reconstruct) windows; None without attention
    words: list[str] | None = None  # the caption drawn from, with <start> and <end>
    word_weights: torch.Tensor | None = None  # (T, n, len(words)) attention over the words


class Drawer:
    """A DRAW model ready to draw.

    Args:
        model: the trained network.
        device: where to run.
        vocab: the caption vocabulary of an alignDRAW model.
        name: what it was loaded from, for reports.
        meta: its measured figures and their provenance, when it came with them.
    """

    def __init__(
        self,
        model: DRAW,
        device: str | torch.device = "cpu",
        vocab: Vocabulary | None = None,
        name: str = "",
        meta: dict | None = None,
    ) -> None:
        self.model, self.device, self.vocab = model.eval().to(device), torch.device(device), vocab
        self.name, self.meta = name, meta or {}

    @property
    def conditional(self) -> bool:
        """Does it draw from captions?"""
        return isinstance(self.model, AlignDRAW)

    @classmethod
    def from_pretrained(cls, model: str | Path = DEFAULT, map_location: str | torch.device = "cpu") -> Drawer:
        """A shipped DRAW or alignDRAW model by name, a model folder, a checkpoint file or a Hub id."""
        trained = load_trained(model, (Kind.DRAWER, Kind.ALIGNDRAWER), "a DRAW model", map_location)
        if trained.kind == Kind.ALIGNDRAWER and trained.vocab is None:
            raise CheckpointError(f"{trained.source}: an alignDRAW model without its vocabulary")
        vocab = trained.vocab if trained.kind == Kind.ALIGNDRAWER else None
        return cls(build(trained, map_location), map_location, vocab, trained.source, trained.meta)

    @classmethod
    def from_checkpoint(cls, path: str | Path, map_location: str | torch.device = "cpu") -> Drawer:
        """Load a drawer from a Lightning checkpoint (or any source :meth:`from_pretrained` takes)."""
        return cls.from_pretrained(path, map_location)

    def save_pretrained(
        self,
        folder: str | Path,
        dtype: str = "float32",
        card: str | None = None,
        meta: dict | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Write a model folder that :meth:`from_pretrained` reads back."""
        kind = Kind.ALIGNDRAWER if self.conditional else Kind.DRAWER
        preprocessing = {"image_shape": list(self.model.image_shape), "range": [0, 1]}
        return save_trained(
            folder,
            kind,
            self.model,
            self.vocab,
            preprocessing,
            meta if meta is not None else self.meta,
            dtype,
            card,
            overwrite,
        )

    @torch.no_grad()
    def bound(
        self, images: torch.Tensor, seed: int | None = 0, caption: str | list[str] | None = None, batch_size: int = 500
    ) -> torch.Tensor:
        """The negative variational bound of each of (n, C, H, W) images in [0, 1], in nats
        (what training minimises; one draw of the latents per image); an alignDRAW model
        reads each image's caption (one per image)."""
        generator = None if seed is None else torch.Generator(device=self.device).manual_seed(seed)
        values = []
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(self.device)
            if self.conditional:
                ids, lengths, _ = self._captions(
                    len(x), caption[start : start + batch_size] if isinstance(caption, list) else caption
                )
                loss = aligndraw_loss(self.model, self.model(x, ids, lengths, generator=generator), x)
            else:
                loss = draw_loss(self.model, self.model(x, generator=generator), x)
            values.append((loss.reconstruction + loss.kl).cpu())
        return torch.cat(values)

    def encode(self, caption: str | list[str]) -> list[int]:
        """Token ids of a caption with <start> and <end>; an unknown word, or more words than
        ``MAX_CAPTION_WORDS``, is an error naming it."""
        words = caption.split() if isinstance(caption, str) else list(caption)  # counted before tokenizing
        if len(words) <= MAX_CAPTION_WORDS and isinstance(caption, str) and len(caption) > 64 * MAX_CAPTION_WORDS:
            raise ValueError(f"a caption of {len(caption):,} characters: alignDRAW draws from short captions")
        tokens = tokenize(caption) if isinstance(caption, str) and len(words) <= MAX_CAPTION_WORDS else words
        if len(tokens) > MAX_CAPTION_WORDS:
            raise ValueError(
                f"a caption of {len(tokens):,} words: this model draws from captions of at most "
                f"{MAX_CAPTION_WORDS} (it was trained on captions of about ten)"
            )
        unknown = [t for t in tokens if t not in self.vocab.stoi]
        if unknown:
            raise ValueError(f"caption words not in the model's vocabulary: {', '.join(map(repr, unknown))}")
        return self.vocab.encode(tokens)

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, caption: str | list[str] | None = None) -> Drawing:
        """n images from the prior, step by step; an alignDRAW model needs the ``caption``
        to draw (a string, or a list of n strings, one per image). A count too large for the
        memory free on the device is refused before drawing."""
        check_int("n", n)
        require_memory(self.bytes_per_image(), n, self.device, f"drawing {n} images")
        generator = None if seed is None else torch.Generator(device=self.device).manual_seed(seed)
        if not self.conditional:
            if caption is not None:
                raise ValueError("this DRAW model draws without captions: it was not trained on any")
            out = self.model.generate(n, generator=generator, device=self.device)
            windows = Windows.stack(out.write_windows, self.model.write_n) if out.write_windows else None
            return Drawing(torch.sigmoid(out.canvases).cpu(), windows)
        ids, lengths, words = self._captions(n, caption)
        out = self.model.generate(ids, lengths, generator=generator)
        windows = Windows.stack(out.write_windows, self.model.write_n) if out.write_windows else None
        return Drawing(torch.sigmoid(out.canvases).cpu(), windows, words, out.word_weights.cpu() if words else None)

    def bytes_per_image(self, gif_scale: int | None = None) -> int:
        """About the bytes one drawn image holds: its canvas at every step (kept, stacked and
        squashed: three copies) and its latents; with ``gif_scale``, also its RGB pixels in
        every GIF frame (twice: the frames and Pillow's palette conversion)."""
        channels, height, width = self.model.image_shape
        steps = self.model.steps
        tensors = 4 * steps * (3 * channels * height * width + 4 * self.model.z_dim + 16)
        frames = 0 if gif_scale is None else 2 * (steps + 2) * 3 * height * width * gif_scale**2
        return tensors + frames

    def _captions(self, n: int, caption: str | list[str] | None) -> tuple[torch.Tensor, torch.Tensor, list[str] | None]:
        """(ids (n, S), lengths (n,), the words of a caption shared by all n images or None)."""
        if caption is None:
            raise ValueError(
                "this alignDRAW model draws from a caption: pass caption=... (--caption on the command line)"
            )
        captions = [caption] * n if isinstance(caption, str) else list(caption)
        if len(captions) != n:
            raise ValueError(f"{len(captions)} captions for {n} images")
        ids, lengths = pad_captions([torch.tensor(self.encode(c)) for c in captions])
        words = [self.vocab.itos[i] for i in ids[0, : int(lengths[0])].tolist()] if isinstance(caption, str) else None
        return ids.to(self.device), lengths.to(self.device), words

    @torch.no_grad()
    def reconstruct(
        self,
        images: torch.Tensor,
        seed: int | None = None,
        caption: str | list[str] | None = None,
        windows: str = "read",
    ) -> Drawing:
        """Reconstructions of (n, C, H, W) images in [0, 1], with the ``windows`` ("read": where
        it looked at the image, "write": where it drew) of each step; an alignDRAW model
        also reads the images' ``caption`` (one, or one per image)."""
        if windows not in ("read", "write"):
            raise ValueError(f"windows must be 'read' or 'write', got {windows!r}")
        generator = None if seed is None else torch.Generator(device=self.device).manual_seed(seed)
        images = images.to(self.device)
        if not self.conditional:
            out = self.model(images, generator=generator)
            words = weights = None
        else:
            ids, lengths, words = self._captions(len(images), caption)
            out = self.model(images, ids, lengths, generator=generator)
            weights = out.word_weights.cpu() if words else None
        chosen, n = (
            (out.read_windows, self.model.read_n) if windows == "read" else (out.write_windows, self.model.write_n)
        )
        return Drawing(torch.sigmoid(out.canvases).cpu(), Windows.stack(chosen, n) if chosen else None, words, weights)
