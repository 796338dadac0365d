"""Models: plain nn.Modules (no Lightning)."""

from .aligndraw import AlignDRAW, aligndraw_loss
from .draw import DRAW, draw_loss
from .judge import SceneJudge
from .text import AttentionClassifier, Seq2Seq, TransformerClassifier, TransformerSeq2Seq
from .show_attend_tell import Memory, ShowAttendTell, State, StepOutput, TeacherForced, caption_loss, hard_attention_loss

__all__ = ["AlignDRAW", "aligndraw_loss", "AttentionClassifier", "Seq2Seq", "TransformerClassifier", "TransformerSeq2Seq", "DRAW", "draw_loss", "Memory", "SceneJudge", "ShowAttendTell", "State", "StepOutput", "TeacherForced", "caption_loss", "hard_attention_loss"]
