"""Models: plain nn.Modules (no Lightning)."""

from .aligndraw import AlignDRAW, aligndraw_loss
from .attention_classifier import AttentionClassifier
from .backbones import Backbone
from .draw import DRAW, draw_loss
from .registry import build_model, get_model, instantiate, list_models, recipe, register_model
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
    "Backbone",
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
    "instantiate",
    "list_models",
    "recipe",
    "register_model",
    "sequence_loss",
]
