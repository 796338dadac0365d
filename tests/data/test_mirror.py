"""Horizontal-flip augmentation of captioned photos: the mirror image, its features and its
captions ("left" and "right" swapped) agree, and only the training split is mirrored."""

import numpy as np
import torch
from PIL import Image
from torch import nn

from vision_attention.data import CachedFeatures, CaptionFilesDataModule
from vision_attention.data.caption_sets import RandomMirror, mirror_captions
from vision_attention.models.backbones import CacheablePart


class GridEncoder(nn.Module):
    """(B, 3, H, W) -> (B, 4, 3): the mean colour of each quarter, which a flip moves."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, images):
        self.calls += 1
        return nn.functional.adaptive_avg_pool2d(images, 2).flatten(2).transpose(1, 2)


def part(encoder):
    """The encoder's whole output cached, keyed by its (weightless) self."""
    return CacheablePart(encoder, encoder, {"name": "GridEncoder"})


def photos(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "images" / f"{i}.png")
    (tmp_path / "captions.txt").write_text(
        "image,caption\n"
        + "".join(f"{i}.png,a dog on the left of a cat number {i}\n{i}.png,the right paw is up\n" for i in range(5))
    )
    (tmp_path / "Flickr_8k.trainImages.txt").write_text("0.png\n1.png\n2.png\n")
    (tmp_path / "Flickr_8k.devImages.txt").write_text("3.png\n4.png\n")
    return tmp_path / "captions.txt"


def test_mirror_captions_swap_left_and_right_and_keep_the_rest():
    assert mirror_captions([["the", "left", "hand"], ["right", "left", "leftover"]]) == [
        ["the", "right", "hand"],
        ["left", "right", "leftover"],
    ]


def test_training_visits_give_the_photo_or_its_flip_with_mirrored_captions(tmp_path):
    data = CaptionFilesDataModule(str(photos(tmp_path)), image_size=8, min_count=1, mirror=True)
    data.setup()
    train = data.splits["train"]
    assert isinstance(train, RandomMirror) and not isinstance(data.splits["val"], RandomMirror)
    plain = train.plain[1]
    seen = set()
    torch.manual_seed(0)
    for _ in range(40):
        item = train[1]
        if torch.equal(item["image"], plain["image"]):
            seen.add("plain")
            assert item["captions"] == plain["captions"]
        else:
            seen.add("mirror")
            assert torch.equal(item["image"], plain["image"].flip(-1))
            assert item["captions"][0][4] == "right" and item["captions"][1][1] == "left"
    assert seen == {"plain", "mirror"}
    unmirrored = CaptionFilesDataModule(str(tmp_path / "captions.txt"), image_size=8, min_count=1)
    unmirrored.setup()
    assert data.vocab.to_dict() == unmirrored.vocab.to_dict()  # the vocabulary comes from the captions as written


def test_a_feature_cache_holds_the_mirror_images_features_too(tmp_path):
    encoder = GridEncoder()
    data = CaptionFilesDataModule(
        str(photos(tmp_path)), image_size=8, min_count=1, mirror=True, feature_cache=str(tmp_path / "cache")
    )
    data.use_cached_features(part(encoder))
    data.use_cached_features(part(encoder))  # again, as a test after a fit does: the cached splits stay
    train = data.splits["train"]
    assert isinstance(train.plain, CachedFeatures) and isinstance(train.mirrored, CachedFeatures)
    assert isinstance(data.splits["val"], CachedFeatures)
    source = CaptionFilesDataModule(str(tmp_path / "captions.txt"), image_size=8, min_count=1)
    source.setup()
    pictures = torch.stack([source.splits["train"][i]["image"] for i in range(3)])  # (3, 3, 8, 8)
    torch.testing.assert_close(
        torch.from_numpy(np.array(train.plain.features, dtype=np.float32)), encoder(pictures), atol=2e-3, rtol=0
    )
    torch.testing.assert_close(
        torch.from_numpy(np.array(train.mirrored.features, dtype=np.float32)),
        encoder(pictures.flip(-1)),
        atol=2e-3,
        rtol=0,
    )
    assert not np.allclose(train.plain.features, train.mirrored.features)
    assert len(list((tmp_path / "cache").glob("*.f16"))) == 3  # train, its mirror, dev
    again = CaptionFilesDataModule(
        str(tmp_path / "captions.txt"), image_size=8, min_count=1, mirror=True, feature_cache=str(tmp_path / "cache")
    )
    reader = GridEncoder()
    again.use_cached_features(part(reader))
    assert reader.calls == 0  # both caches were found, nothing recomputed
