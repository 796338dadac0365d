"""Thin LightningModules: each receives a model and owns the loop."""

from .callbacks import ElapsedMinutes
from .captioning import CaptioningModule
from .drawing import AlignDrawModule, DrawModule
from .judge import JudgeModule
from .text import ClassifierModule, Seq2SeqModule

__all__ = ["AlignDrawModule", "CaptioningModule", "ClassifierModule", "DrawModule", "ElapsedMinutes", "JudgeModule", "Seq2SeqModule"]
