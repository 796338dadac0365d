"""Models: plain nn.Modules (no Lightning)."""

from .show_attend_tell import Memory, ShowAttendTell, State, StepOutput, TeacherForced, caption_loss, hard_attention_loss

__all__ = ["Memory", "ShowAttendTell", "State", "StepOutput", "TeacherForced", "caption_loss", "hard_attention_loss"]
