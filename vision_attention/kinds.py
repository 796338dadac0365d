"""The kinds of trained model, in one table: what a checkpoint or model folder says it is, the
model classes it may be, the inference class that loads it, and the shipped model a command
uses when given none. Everything that names a kind (the LightningModules, the loaders, the
shipped models, the commands) takes it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    """A kind of trained model; its value is what checkpoints and config.json record."""

    CAPTIONER = "captioner"
    DRAWER = "drawer"
    ALIGNDRAWER = "aligndrawer"
    CLASSIFIER = "classifier"
    TRANSLATOR = "translator"
    JUDGE = "judge"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class KindInfo:
    classes: tuple[str, ...]  # the model classes (registered by name) a model of this kind may be
    inference: str  # the class of vision_attention.inference that loads it
    default: str | None = None  # the shipped model a command uses when given none


KINDS: dict[Kind, KindInfo] = {
    Kind.CAPTIONER: KindInfo(("ShowAttendTell",), "Captioner", "sat-soft-flickr8k"),
    Kind.DRAWER: KindInfo(("DRAW",), "Drawer", "draw-bmnist"),
    Kind.ALIGNDRAWER: KindInfo(("AlignDRAW",), "Drawer", "aligndraw-mnist-captions"),
    Kind.CLASSIFIER: KindInfo(("AttentionClassifier", "TransformerClassifier"), "Classifier"),
    Kind.TRANSLATOR: KindInfo(("Seq2Seq", "TransformerSeq2Seq"), "Translator"),
    Kind.JUDGE: KindInfo(("SceneJudge",), "Judge"),
}


def default_model(kind: Kind) -> str:
    """The shipped model of ``kind`` that commands use when no model is named."""
    name = KINDS[kind].default
    if name is None:
        raise ValueError(f"no {kind} is shipped: name one")
    return name
