"""Scoring text-to-image models with a judge trained on real images (alignDRAW's
evaluation): draw one image from the main caption of each scene of a split, and count
the images whose attributes the judge reads back as the caption says. The judge's own
accuracy on the real images of the same scenes is reported beside it.

``judge_drawer(Drawer.from_checkpoint(a), Judge.from_checkpoint(b), split="test")``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..data.attributes import IGNORE, attribute_targets, judged_correct
from ..files.checkpoints import CheckpointError, load_checkpoint, model_weights
from ..kinds import Kind
from ..models.scene_judge import SceneJudge
from ..resources import check_int


class Judge:
    """A trained :class:`SceneJudge` and the data it was trained on.

    Args:
        model: the judge network.
        data: ``{"class": data module class name, "init_args": its arguments}``.
    """

    def __init__(self, model: SceneJudge, data: dict) -> None:
        self.model, self.data = model.eval(), data

    @classmethod
    def from_checkpoint(cls, path: str | Path, map_location: str = "cpu") -> Judge:
        checkpoint, info = load_checkpoint(path, map_location, (Kind.JUDGE,), "a judge")
        if not info.get("data"):
            raise CheckpointError(f"{path}: a judge checkpoint without its data settings")
        model = SceneJudge.from_config(info["model_config"])
        model.load_state_dict(model_weights(checkpoint))
        return cls(model, info["data"])

    def dataset(self, split: str, size: int):
        """``size`` scenes of ``split`` ("test" or "compositional"; "val"), as the judge's data module makes them."""
        from .. import data as data_modules

        module_class = getattr(data_modules, self.data["class"])
        args = {
            **self.data["init_args"],
            "test_split": split if split != "val" else "test",
            "test_size": size,
            "val_size": size,
        }
        return module_class(**args).make_splits()["val" if split == "val" else "test"]

    @torch.no_grad()
    def score(self, images: torch.Tensor, scenes: list) -> tuple[torch.Tensor, dict[str, tuple[int, int]]]:
        """One reading of the images: (B,) True where every attribute of the scene is read
        right, and per attribute (right, present) over the batch."""
        logits = self.model(images)
        targets = attribute_targets(self.model.schema, scenes, images.device)
        hits = {}
        for name, target in targets.items():
            present = target != IGNORE
            hits[name] = (int(((logits[name].argmax(1) == target) & present).sum()), int(present.sum()))
        return judged_correct(logits, targets), hits


@dataclass
class JudgeReport:
    split: str
    scenes: int
    real_accuracy: float  # the judge on the real images
    generated_accuracy: float  # the judge agreeing with the caption on generated images
    attributes: dict[str, float] = field(default_factory=dict)  # per attribute, on generated images

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v:.1%}" for k, v in self.attributes.items())
        return (
            f"{self.split}: {self.scenes} captions; judge on real images {self.real_accuracy:.1%}; "
            f"generated images drawn as captioned {self.generated_accuracy:.1%} ({parts})"
        )


def judge_drawer(
    drawer, judge: Judge, split: str = "test", count: int = 500, batch_size: int = 100, seed: int = 0
) -> JudgeReport:
    """Draw an image from the main caption of each of ``count`` scenes of ``split`` and judge it.

    Args:
        drawer: a :class:`~vision_attention.Drawer` of an alignDRAW model.
        judge: a judge trained on the same data.
        split: "test", "compositional" (combinations never seen in training) or "val".
        count: scenes to draw.
        batch_size: images drawn at once.
        seed: noise of the drawings.
    """
    if not drawer.conditional:
        raise ValueError("judging needs an alignDRAW model: this DRAW model does not draw from captions")
    check_int("count", count)
    check_int("batch_size", batch_size)
    check_int("seed", seed, low=0)
    dataset = judge.dataset(split, count)
    real = generated = 0
    hits: dict[str, list[int]] = {}
    for start in range(0, count, batch_size):
        indices = range(start, min(start + batch_size, count))
        scenes = [dataset.scene(i) for i in indices]
        images = torch.stack([dataset[i]["image"] for i in indices])
        captions = [" ".join(dataset.captions(s)[0]) for s in scenes]
        drawn = drawer.sample(len(scenes), seed=seed + start, caption=captions).canvases[-1]
        real += int(judge.score(images, scenes)[0].sum())
        drawn_right, drawn_hits = judge.score(drawn, scenes)
        generated += int(drawn_right.sum())
        for name, (right, present) in drawn_hits.items():
            total = hits.setdefault(name, [0, 0])
            total[0] += right
            total[1] += present
    attributes = {name: right / present for name, (right, present) in hits.items() if present}
    return JudgeReport(split, count, real / count, generated / count, attributes)
