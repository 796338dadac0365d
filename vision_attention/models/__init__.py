"""Models: plain nn.Modules (no Lightning)."""

from .draw import DRAW, draw_loss
from .text import AttentionClassifier, Seq2Seq, TransformerClassifier, TransformerSeq2Seq
from .show_attend_tell import Memory, ShowAttendTell, State, StepOutput, TeacherForced, caption_loss, hard_attention_loss

__all__ = ["AttentionClassifier", "Seq2Seq", "TransformerClassifier", "TransformerSeq2Seq", "DRAW", "draw_loss", "Memory", "ShowAttendTell", "State", "StepOutput", "TeacherForced", "caption_loss", "hard_attention_loss"]
