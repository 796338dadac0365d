"""Models: plain nn.Modules (no Lightning)."""

from . import presets  # registers the named models
from .aligndraw import AlignDRAW, aligndraw_loss
from .attention_classifier import AttentionClassifier
from .draw import DRAW, draw_loss
from .registry import build_model, get_model, list_models, register_model
from .scene_judge import SceneJudge
from .seq2seq import Seq2Seq, sequence_loss
from .show_attend_tell import (
    Memory,
    ShowAttendTell,
    State,
    StepOutput,
    TeacherForced,
    caption_loss,
    hard_attention_loss,
)
from .transformer import TransformerClassifier, TransformerSeq2Seq

__all__ = [
    "DRAW",
    "AlignDRAW",
    "AttentionClassifier",
    "Memory",
    "SceneJudge",
    "Seq2Seq",
    "ShowAttendTell",
    "State",
    "StepOutput",
    "TeacherForced",
    "TransformerClassifier",
    "TransformerSeq2Seq",
    "aligndraw_loss",
    "build_model",
    "caption_loss",
    "draw_loss",
    "get_model",
    "hard_attention_loss",
    "list_models",
    "presets",
    "register_model",
    "sequence_loss",
]
