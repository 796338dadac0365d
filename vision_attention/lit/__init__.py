"""Thin LightningModules: each receives a model and owns the loop."""

from .captioning import CaptioningModule

__all__ = ["CaptioningModule"]
