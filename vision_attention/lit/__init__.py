"""Thin LightningModules: each receives a model and owns the loop."""

from .callbacks import BudgetDecay, ElapsedMinutes, EMAWeights, SaveLastOnStop
from .captioning_module import CaptioningModule
from .drawing_modules import AlignDrawModule, DrawModule
from .judging_module import JudgeModule
from .self_critical_module import SelfCriticalModule
from .text_modules import ClassifierModule, Seq2SeqModule
from .vision_module import VisionModule

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
