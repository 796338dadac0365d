import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from vision_attention.data import ShapesCaptions
from vision_attention.data.shapes import COLOURS, HOLDOUT, SIZES, ShapeObject, draw_object


def object_pixels(obj: ShapeObject, size: int) -> np.ndarray:
    image = Image.new("RGB", (size, size))
    draw_object(ImageDraw.Draw(image), obj)
    return np.asarray(image).any(-1)


def test_same_seed_same_bytes_other_seed_other_scenes():
    a, b = ShapesCaptions("train", 20, seed=3), ShapesCaptions("train", 20, seed=3)
    for i in range(20):
        assert torch.equal(a[i]["image"], b[i]["image"]) and a[i]["captions"] == b[i]["captions"]
    c = ShapesCaptions("train", 20, seed=4)
    assert sum(torch.equal(a[i]["image"], c[i]["image"]) for i in range(20)) == 0


def test_splits_are_disjoint_and_compositional_pairs_are_held_out():
    scenes = {
        s: [ShapesCaptions(s, 300).scene(i) for i in range(300)] for s in ("train", "val", "test", "compositional")
    }
    keys = {s: {tuple(o for o in sc.objects) for sc in v} for s, v in scenes.items()}
    assert not keys["train"] & keys["val"] and not keys["train"] & keys["test"] and not keys["val"] & keys["test"]
    for split in ("train", "val", "test"):
        assert all((o.colour, o.shape) not in HOLDOUT for sc in scenes[split] for o in sc.objects)
    assert all(any((o.colour, o.shape) in HOLDOUT for o in sc.objects) for sc in scenes["compositional"])
    counts = [len(sc.objects) for sc in scenes["train"]]
    assert set(counts) == {1, 2, 3}


def test_each_box_holds_its_object_and_no_other():
    data = ShapesCaptions("train", 200)
    for i in range(200):
        scene = data.scene(i)
        for obj in scene.objects:
            x0, y0, x1, y1 = obj.box
            inside = np.zeros((64, 64), bool)
            inside[y0:y1, x0:x1] = True
            mine = object_pixels(obj, 64)
            assert mine.any() and not (mine & ~inside).any(), f"scene {i}: {obj} spills out of its box"
            for other in scene.objects:
                if other is not obj:
                    assert not (object_pixels(other, 64) & inside).any(), f"scene {i}: {other} enters the box of {obj}"
            # The rendered colour inside the box is the object's colour.
            image = np.asarray(scene.render())
            assert (image[mine] == COLOURS[obj.colour]).all()


def test_every_generated_caption_is_correct_and_grounded():
    data = ShapesCaptions("test", 300)
    for i in range(300):
        item = data[i]
        scene = item["scene"]
        assert len(item["captions"]) >= 3
        for caption in item["captions"]:
            assert data.is_correct(caption, scene), (caption, scene)
            owners = data.ground(caption, scene)
            named = {o for o in owners if o is not None}
            assert named == set(range(len(scene.objects)))
            for token, owner in zip(caption, owners):
                if token in SIZES or token in COLOURS or token in ("circle", "square", "triangle"):
                    assert owner is not None
                    obj = scene.objects[owner]
                    assert token in (obj.size, obj.colour, obj.shape)


def changed(caption, i, replacement):
    return caption[:i] + [replacement] + caption[i + 1 :]


def test_is_correct_rejects_one_changed_attribute_relation_or_missing_object():
    data = ShapesCaptions("train", 300)
    swaps = {
        "small": "large",
        "large": "small",
        "circle": "square",
        "square": "triangle",
        "triangle": "circle",
        "red": "blue",
        "blue": "green",
        "green": "yellow",
        "yellow": "purple",
        "purple": "red",
        "left": "right",
        "right": "left",
        "above": "below",
        "below": "above",
    }
    relation_words = {"left", "right", "above", "below"}
    checked = 0
    for i in range(300):
        scene = data.scene(i)
        for caption in data.captions(scene):
            parsed_objects = [o.phrase()[1:] for o in scene.objects]
            for pos, word in enumerate(caption):
                if word not in swaps:
                    continue
                if word in relation_words and len({tuple(p) for p in parsed_objects}) < len(parsed_objects):
                    continue  # two identical objects: the swapped relation holds with their roles swapped
                assert not data.is_correct(changed(caption, pos, swaps[word]), scene), (caption, pos, scene)
                checked += 1
        if len(scene.objects) > 1:
            assert not data.is_correct(data.captions(scene)[0][:4], scene), "a caption missing objects was accepted"
    assert checked > 2000
    scene = data.scene(0)
    assert not data.is_correct("a small red", scene) and not data.is_correct("hello", scene)


def test_rejects_bad_split():
    with pytest.raises(ValueError, match="split must be"):
        ShapesCaptions("training")
