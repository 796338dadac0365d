"""Thin LightningModules: each receives a model and owns the loop."""

from .callbacks import ElapsedMinutes
from .captioning import CaptioningModule
from .drawing import DrawModule
from .text import ClassifierModule, Seq2SeqModule

__all__ = ["CaptioningModule", "ClassifierModule", "DrawModule", "ElapsedMinutes", "Seq2SeqModule"]
