"""Thin LightningModules: each receives a model and owns the loop."""

from .base import VisionModule
from .callbacks import BudgetDecay, ElapsedMinutes, EMAWeights, SaveLastOnStop
from .captioning import CaptioningModule
from .drawing import AlignDrawModule, DrawModule
from .judging import JudgeModule
from .self_critical import SelfCriticalModule
from .text import ClassifierModule, Seq2SeqModule

__all__ = [
    "AlignDrawModule",
    "BudgetDecay",
    "CaptioningModule",
    "ClassifierModule",
    "DrawModule",
    "EMAWeights",
    "ElapsedMinutes",
    "JudgeModule",
    "SaveLastOnStop",
    "SelfCriticalModule",
    "Seq2SeqModule",
    "VisionModule",
]
