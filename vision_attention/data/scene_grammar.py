"""Spatial relations and object matching shared by the synthetic caption sets.

A scene is a list of objects with a bounding box (x0, y0, x1, y1) in pixels. A
caption is a chain "obj rel obj rel obj": each relation relates the two objects
next to it. ``A left of B`` is true when B lies mainly to the right of A: the
horizontal offset is positive and larger than the vertical one; likewise above,
below, right of. Matching a caption to a scene tries every assignment of its
phrases to distinct objects (scenes hold at most a few objects).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Protocol

RELATIONS = ("left of", "right of", "above", "below")


class Placed(Protocol):
    @property
    def centre(self) -> tuple[float, float]: ...


def relation_holds(relation: str, a: Placed, b: Placed) -> bool:
    """Whether ``a <relation> b`` is true (image y grows downwards)."""
    dx = b.centre[0] - a.centre[0]
    dy = b.centre[1] - a.centre[1]
    if relation == "left of":
        return dx > abs(dy)
    if relation == "right of":
        return -dx > abs(dy)
    if relation == "above":
        return dy > abs(dx)
    if relation == "below":
        return -dy > abs(dx)
    raise ValueError(f"unknown relation {relation!r}")


def inverse(relation: str) -> str:
    return {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}[relation]


def dominant_relation(a: Placed, b: Placed, ratio: float) -> str | None:
    """The relation of ``a`` to ``b`` when one axis dominates by ``ratio``, else None."""
    dx = b.centre[0] - a.centre[0]
    dy = b.centre[1] - a.centre[1]
    if abs(dx) >= ratio * abs(dy):
        return "left of" if dx > 0 else "right of"
    if abs(dy) >= ratio * abs(dx):
        return "above" if dy > 0 else "below"
    return None


def match(
    phrases: Sequence[object],
    relations: Sequence[str],
    objects: Sequence[Placed],
    fits: Callable[[object, Placed], bool],
) -> tuple[int, ...] | None:
    """The first assignment of phrases to distinct objects under which every phrase
    fits its object and every relation holds, or None.

    Args:
        phrases: parsed object phrases, in caption order.
        relations: ``relations[i]`` relates phrase i to phrase i + 1.
        objects: the scene's objects.
        fits: whether a phrase describes an object.
    """
    for assignment in itertools.permutations(range(len(objects)), len(phrases)):
        if all(fits(p, objects[i]) for p, i in zip(phrases, assignment)) and all(
            relation_holds(r, objects[assignment[k]], objects[assignment[k + 1]]) for k, r in enumerate(relations)
        ):
            return assignment
    return None
