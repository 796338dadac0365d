import numpy as np
import pytest
import torch

from vision_attention.data import MNISTCaptions, MNISTCaptionsDataModule
from vision_attention.data.mnist_captions import HOLDOUT_PAIRS


@pytest.fixture(scope="module")
def pool():
    """Fake digits: a filled rectangle whose width encodes the label."""
    digits = np.zeros((200, 28, 28), dtype=np.uint8)
    labels = np.arange(200) % 10
    for i, label in enumerate(labels):
        digits[i, 6:22, 4 : 6 + 2 * label] = 255
    return digits, labels


def test_scenes_captions_boxes_and_correctness(pool):
    data = MNISTCaptions(*pool, "train", 300, seed=0)
    corners = relations = 0
    for i in range(300):
        item = data[i]
        scene = item["scene"]
        assert item["image"].shape == (1, 60, 60)
        image = item["image"][0].numpy() > 0
        covered = np.zeros_like(image)
        for d in scene.digits:
            x0, y0, x1, y1 = d.box
            covered[y0:y1, x0:x1] = True
            assert image[y0:y1, x0:x1].any()
        assert not (image & ~covered).any(), "ink outside every box"
        if len(scene.digits) == 2:
            a, b = (d.box for d in scene.digits)
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], "digit boxes overlap"
            assert (scene.digits[0].label, scene.digits[1].label) not in HOLDOUT_PAIRS
            relations += 1
        else:
            corners += 1
        for caption in item["captions"]:
            assert data.is_correct(caption, scene), caption
            owners = data.ground(caption, scene)
            for token, owner in zip(caption, owners):
                if token.isdigit():
                    assert scene.digits[owner].label == int(token)
        wrong = list(item["captions"][0])
        label_at = wrong.index(str(scene.digits[0].label))
        wrong[label_at] = str((scene.digits[0].label + 1) % 10)
        assert not data.is_correct(wrong, scene)
        swapped = [
            {
                "left": "right",
                "right": "left",
                "top": "bottom",
                "bottom": "top",
                "above": "below",
                "below": "above",
            }.get(w, w)
            for w in item["captions"][0]
        ]
        if len(scene.digits) == 1 or scene.digits[0].label != scene.digits[1].label:
            assert not data.is_correct(swapped, scene), swapped
    assert corners > 100 and relations > 100


def test_compositional_split_holds_only_unseen_ordered_pairs(pool):
    data = MNISTCaptions(*pool, "compositional", 100)
    for i in range(100):
        scene = data.scene(i)
        assert (scene.digits[0].label, scene.digits[1].label) in HOLDOUT_PAIRS
    assert torch.equal(data[5]["image"], MNISTCaptions(*pool, "compositional", 100)[5]["image"])


def test_mnist_captions_from_real_digits(data_dir):
    dm = MNISTCaptionsDataModule(root=str(data_dir / "mnist"), train_size=50, val_size=10, test_size=10, batch_size=5)
    batch = next(iter(dm.train_dataloader()))
    assert batch["images"].shape == (5, 1, 60, 60) and batch["captions"][:, 0].eq(1).all()
