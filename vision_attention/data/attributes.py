"""What a caption of a synthetic scene says, as class labels a judge network can read
off an image: for ShapesCaptions the shape, colour and size of each object (left to
right) and the relation between them; for MNISTCaptions each digit (in caption order),
the corner of a single digit and the relation of two.

A scene's main caption names exactly these attributes, so an image drawn from that
caption is right when a judge reads the scene's attributes back from it.
"""

from __future__ import annotations

import torch

from .mnist_captions import CORNERS, DigitScene, corner_of
from .scene_grammar import dominant_relation
from .shapes import COLOURS, SHAPES, SIZES, Scene

IGNORE = -100  # an attribute the scene does not have (cross-entropy's ignore_index)
RELATIONS = ("left of", "right of", "above", "below")
DIGIT_RELATIONS = ("left of", "above")

SCHEMAS: dict[str, dict[str, int]] = {
    "shapes": {
        "count": 2,
        "relation": len(RELATIONS),
        **{
            f"{part}_{i}": n
            for i in (0, 1)
            for part, n in (("shape", len(SHAPES)), ("colour", len(COLOURS)), ("size", len(SIZES)))
        },
    },
    "mnist_captions": {
        "count": 2,
        "corner": len(CORNERS),
        "relation": len(DIGIT_RELATIONS),
        "digit_0": 10,
        "digit_1": 10,
    },
}


def shapes_attributes(scene: Scene) -> dict[str, int]:
    """Attributes of a scene of one or two shapes (objects left to right)."""
    if not 1 <= len(scene.objects) <= 2:
        raise ValueError(f"the shapes judge reads scenes of 1 or 2 objects, got {len(scene.objects)}")
    out = dict.fromkeys(SCHEMAS["shapes"], IGNORE)
    out["count"] = len(scene.objects) - 1
    for i, obj in enumerate(scene.objects):
        out[f"shape_{i}"], out[f"size_{i}"] = SHAPES.index(obj.shape), list(SIZES).index(obj.size)
        out[f"colour_{i}"] = list(COLOURS).index(obj.colour)
    if len(scene.objects) == 2:
        out["relation"] = RELATIONS.index(dominant_relation(*scene.objects, 1.0))
    return out


def digits_attributes(scene: DigitScene) -> dict[str, int]:
    """Attributes of an MNISTCaptions scene (digits in the main caption's order)."""
    out = dict.fromkeys(SCHEMAS["mnist_captions"], IGNORE)
    out["count"] = len(scene.digits) - 1
    for i, digit in enumerate(scene.digits):
        out[f"digit_{i}"] = digit.label
    if scene.corner is not None:
        out["corner"] = CORNERS.index(corner_of(scene.digits[0]))
    else:
        out["relation"] = DIGIT_RELATIONS.index(scene.relation)
    return out


def scene_attributes(schema: str, scene) -> dict[str, int]:
    if schema not in SCHEMAS:
        raise ValueError(f"unknown judge schema {schema!r}; choose from {sorted(SCHEMAS)}")
    return shapes_attributes(scene) if schema == "shapes" else digits_attributes(scene)


def attribute_targets(schema: str, scenes, device) -> dict[str, torch.Tensor]:
    """(B,) class labels per attribute, IGNORE where a scene lacks it."""
    rows = [scene_attributes(schema, scene) for scene in scenes]
    return {name: torch.tensor([r[name] for r in rows], device=device) for name in rows[0]}


def judged_correct(logits: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B,) True where every attribute the scene has is read right."""
    right = None
    for name, target in targets.items():
        ok = (logits[name].argmax(1) == target) | (target == IGNORE)
        right = ok if right is None else right & ok
    return right
