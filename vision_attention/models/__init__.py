"""Models: plain nn.Modules (no Lightning)."""

from torch import nn

from .aligndraw import AlignDRAW, aligndraw_loss
from .classifier import AttentionClassifier
from .draw import DRAW, draw_loss
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
    "hard_attention_loss",
    "sequence_loss",
]

MODELS = {
    cls.__name__: cls
    for cls in (
        ShowAttendTell,
        DRAW,
        AlignDRAW,
        SceneJudge,
        AttentionClassifier,
        TransformerClassifier,
        Seq2Seq,
        TransformerSeq2Seq,
    )
}


def build_model(name: str, config: dict) -> nn.Module:
    """Rebuild a model (fresh weights) from its class name and ``config``, as checkpoints and
    model folders store them."""
    if name not in MODELS:
        raise ValueError(f"unknown model class {name!r}; known: {', '.join(MODELS)}")
    cls = MODELS[name]
    return cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
