"""Thin LightningModules: each receives a model and owns the loop."""

from .callbacks import ElapsedMinutes
from .captioning import CaptioningModule
from .drawing import DrawModule

__all__ = ["CaptioningModule", "DrawModule", "ElapsedMinutes"]
