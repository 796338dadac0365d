"""Models: plain nn.Modules (no Lightning)."""

from torch import nn

from .aligndraw import AlignDRAW, aligndraw_loss
from .classifier import AttentionClassifier
from .draw import DRAW, draw_loss
from .scene_judge import SceneJudge
from .seq2seq import Seq2Seq, sequence_loss
from .show_attend_tell import Memory, ShowAttendTell, State, StepOutput, TeacherForced, caption_loss, hard_attention_loss
from .transformer import TransformerClassifier, TransformerSeq2Seq

__all__ = ["AlignDRAW", "aligndraw_loss", "AttentionClassifier", "Seq2Seq", "TransformerClassifier", "TransformerSeq2Seq",
           "DRAW", "draw_loss", "Memory", "SceneJudge", "ShowAttendTell", "State", "StepOutput", "TeacherForced",
           "build_text_model", "caption_loss", "hard_attention_loss", "sequence_loss"]

TEXT_MODELS = {cls.__name__: cls for cls in (AttentionClassifier, TransformerClassifier, Seq2Seq, TransformerSeq2Seq)}


def build_text_model(name: str, config: dict) -> nn.Module:
    """Rebuild a text model from its class name and ``config`` (as checkpoints store them)."""
    if name not in TEXT_MODELS:
        raise ValueError(f"unknown text model {name!r}; known: {', '.join(TEXT_MODELS)}")
    return TEXT_MODELS[name](**config)
