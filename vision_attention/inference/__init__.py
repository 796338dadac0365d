"""Trained checkpoints at work: each class loads its kind with ``from_checkpoint(path)``
and needs nothing else (no config, no data, no Lightning)."""

from .captioner import Caption, Captioner, CaptionerEnsemble
from .classifier import Classified, Classifier
from .drawer import Drawer, Drawing
from .judge import Judge, judge_drawer
from .translator import Translation, Translator

__all__ = [
    "Caption",
    "Captioner",
    "CaptionerEnsemble",
    "Classified",
    "Classifier",
    "Drawer",
    "Drawing",
    "Judge",
    "Translation",
    "Translator",
    "judge_drawer",
]
