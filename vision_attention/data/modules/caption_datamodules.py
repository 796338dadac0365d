"""The caption data modules: ShapesCaptions and MNISTCaptions (made here, with ground
truth), and caption files of real photos (Flickr8k, COCO) with cached backbone features."""

from __future__ import annotations

from typing import Literal

import torch
from torch.utils.data import ConcatDataset, Dataset

from ...vocab import Vocabulary
from ..caption_files import read_caption_records
from ..caption_sets import CaptionedImages, CaptionItems, RandomMirror, collate_captions, mirror_image
from ..digits import load_mnist
from ..feature_cache import CachedFeatures, FeatureCache, file_fingerprints
from ..mnist_captions import MNISTCaptions
from ..shapes import ShapesCaptions
from .splits import SplitsDataModule, _require, weights_fingerprint


class CaptionDataModule(SplitsDataModule):
    """The caption modules' shared part: items with their captions' ids, padded batches with
    lengths; subclasses provide the splits and the vocabulary."""

    collate = staticmethod(collate_captions)

    def dataset(self, split: str, train: bool) -> Dataset:
        return CaptionItems(self.splits[split], self.vocab, train)

    def train_references(self) -> list[list[list[str]]]:
        """The captions of every training image (the corpus of CIDEr-D's document frequencies)."""
        self.setup()
        train = self.splits["train"]
        return [train[i]["captions"] for i in range(len(train))]


class SceneCaptionsDataModule(CaptionDataModule):
    """The settings the synthetic scene sets share (ShapesCaptions, MNISTCaptions); each
    module adds its own and passes these on.

    Args:
        test_split: "test", or "compositional" for combinations never seen in training
            (unseen (colour, shape) pairs; digit pairs never seen in that order).
        seed: the data set's seed.
        batch_size: images per batch.
        num_workers: DataLoader worker processes.
        extra_train_splits: further splits whose scenes join training (``train_size`` each),
            drawn with ``seed + 1`` so they are never the scenes evaluated; for a judge
            that must read every combination, e.g. ["compositional"].
    """

    def __init__(
        self,
        test_split: Literal["test", "compositional"] = "test",
        seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
        extra_train_splits: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.save_hyperparameters()  # the subclass's own arguments too (Lightning reads every __init__ frame)


class ShapesCaptionsDataModule(SceneCaptionsDataModule):
    """ShapesCaptions, generated on the fly: no files needed.

    Args:
        train_size: training scenes.
        val_size: validation scenes.
        test_size: test scenes.
        image_size: image side in pixels.
        max_objects: objects per scene, 1..max_objects.
        eval_max_objects: objects per validation and test scene, if not ``max_objects``
            (e.g. train on 1-3 objects, evaluate on 1-2).
        **kwargs: test_split, seed, batch_size, num_workers, extra_train_splits
            (:class:`SceneCaptionsDataModule`).
    """

    def __init__(
        self,
        train_size: int = 20000,
        val_size: int = 500,
        test_size: int = 1000,
        image_size: int = 64,
        max_objects: int = 3,
        eval_max_objects: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)

    def make_splits(self) -> dict[str, Dataset]:
        h = self.hparams

        def make(split: str, n: int, seed: int = h.seed, objects: int = h.max_objects) -> ShapesCaptions:
            return ShapesCaptions(split, n, h.image_size, seed, objects)

        extra = [make(split, h.train_size, h.seed + 1) for split in h.extra_train_splits]
        train = ConcatDataset([make("train", h.train_size), *extra]) if extra else make("train", h.train_size)
        evaluated = h.eval_max_objects or h.max_objects
        return {
            "train": train,
            "val": make("val", h.val_size, objects=evaluated),
            "test": make(h.test_split, h.test_size, objects=evaluated),
        }

    def make_vocab(self) -> Vocabulary:
        return Vocabulary(ShapesCaptions.words())


class MNISTCaptionsDataModule(SceneCaptionsDataModule):
    """MNISTCaptions from MNIST IDX files (train digits for train/val, test digits for test).

    Args:
        root: folder with MNIST IDX files; defaults to ``$VISION_ATTENTION_DATA/mnist``.
        train_size: training scenes (extra training splits draw from the training digits too).
        val_size: validation scenes.
        test_size: test scenes.
        **kwargs: test_split, seed, batch_size, num_workers, extra_train_splits
            (:class:`SceneCaptionsDataModule`).
    """

    def __init__(
        self, root: str | None = None, train_size: int = 20000, val_size: int = 1000, test_size: int = 2000, **kwargs
    ) -> None:
        super().__init__(**kwargs)

    def make_splits(self) -> dict[str, Dataset]:
        h = self.hparams
        root = _require(h.root, "MNIST", "mnist", "python datasets/mnist.py")
        digits, labels = load_mnist(root, train=True)
        cut = int(len(digits) * 0.9)  # the last tenth of the training digits serves validation
        test_digits, test_labels = load_mnist(root, train=False)
        train = MNISTCaptions(digits[:cut], labels[:cut], "train", h.train_size, h.seed)
        extra = [
            MNISTCaptions(digits[:cut], labels[:cut], split, h.train_size, h.seed + 1) for split in h.extra_train_splits
        ]
        return {
            "train": ConcatDataset([train, *extra]) if extra else train,
            "val": MNISTCaptions(digits[cut:], labels[cut:], "val", h.val_size, h.seed),
            "test": MNISTCaptions(test_digits, test_labels, h.test_split, h.test_size, h.seed),
        }

    def make_vocab(self) -> Vocabulary:
        return Vocabulary(MNISTCaptions.words())


class CaptionFilesDataModule(CaptionDataModule):
    """Captioned photos from a Karpathy split JSON or a ``captions.txt`` file.

    The splits of ``captions.txt`` are the official Flickr8k split lists when they lie beside
    it (``datasets/flickr8k.py`` writes them; dev is the validation split, test is used when
    its list is there), and a seeded shuffle of the images otherwise.

    Args:
        annotations: ``dataset_*.json`` (Karpathy splits) or ``captions.txt`` (image,caption).
        image_root: folder of the images; defaults to ``images/`` beside ``annotations``,
            or its folder.
        image_size: images are resized to image_size x image_size.
        val_share: share of images for validation (captions.txt without split lists).
        test_share: share of images for testing (captions.txt without split lists).
        split_seed: seed of that split.
        min_count: words seen fewer times in training captions become ``<unk>``.
        skip_bad_images: skip undecodable images with a warning instead of failing.
        feature_cache: folder of feature caches; with it, a frozen encoder's features are
            computed once per image (see :meth:`use_encoder`) and training never runs the CNN.
        mirror: train also on mirror images (left-right flips, "left" and "right" swapped in
            their captions), each visit taking the photo or its mirror at random; with a
            feature cache the mirror images' features are cached too.
        batch_size: images per batch.
        num_workers: DataLoader worker processes.
    """

    def __init__(
        self,
        annotations: str,
        image_root: str | None = None,
        image_size: int = 224,
        val_share: float = 0.1,
        test_share: float = 0.1,
        split_seed: int = 0,
        min_count: int = 5,
        skip_bad_images: bool = False,
        feature_cache: str | None = None,
        mirror: bool = False,
        batch_size: int = 32,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()

    def records(self):
        h = self.hparams
        return read_caption_records(h.annotations, h.image_root, h.val_share, h.test_share, h.split_seed)

    def empty_split(self, split: str) -> str:
        return f"{self.hparams.annotations} has no {split} photos"

    def train_references(self) -> list[list[list[str]]]:
        self.setup()
        return [r.captions for r in self._records if r.split == "train"]

    def make_splits(self) -> dict[str, Dataset]:
        from functools import partial

        from ..image_decoding import to_model_input

        h = self.hparams
        self._records = self.records()
        transform = partial(to_model_input, size=h.image_size)  # the Captioner's own preprocessing
        by_split = {s: [r for r in self._records if r.split == s] for s in ("train", "val", "test")}
        splits = {s: CaptionedImages(rs, transform, h.skip_bad_images) for s, rs in by_split.items()}
        if h.mirror:
            mirrored = CaptionedImages(
                by_split["train"], partial(_mirrored_input, size=h.image_size), h.skip_bad_images
            )
            splits["train"] = RandomMirror(splits["train"], mirrored)
        return splits

    def make_vocab(self) -> Vocabulary:
        train = [r for r in self._records if r.split == "train"]
        return Vocabulary.build((c for r in train for c in r.captions), self.hparams.min_count)

    @property
    def caches_features(self) -> bool:
        """Whether training reads cached features (``feature_cache`` given) rather than images."""
        return self.hparams.feature_cache is not None

    def use_cached_features(self, part) -> None:
        """Replace the images of every split by the vectors ``part.compute`` makes of them,
        computed once and cached (keyed by ``part.config``, the fingerprint of ``part.weights``,
        the image size and the files): the explicit encoder-side step the model hands over
        (:meth:`~vision_attention.models.backbones.ImageEncoder.cacheable`). A no-op without
        ``feature_cache``."""
        if not self.caches_features:
            return
        self.setup()
        device = (
            self.trainer.strategy.root_device if self.trainer is not None else "cpu"
        )  # the GPU when training on one
        config = part.config
        settings = {**config, "image_size": self.hparams.image_size, "weights": weights_fingerprint(part.weights)}

        def cached(images: CaptionedImages, **extra) -> CachedFeatures:
            paths = [r.path for r in images.records]
            cache = FeatureCache(
                self.hparams.feature_cache,
                config["name"],
                {**settings, **extra},
                [str(p) for p in paths],
                file_fingerprints(paths),
            )
            training = part.compute.training  # building the cache puts the encoder in eval mode
            features = cache.get_or_build(images, part.compute, device=device)
            part.compute.train(training)
            return CachedFeatures(features, [r.captions for r in images.records])

        for split, images in list(self.splits.items()):  # splits already cached stay as they are
            if isinstance(images, RandomMirror) and isinstance(images.plain, CaptionedImages):
                self.splits[split] = RandomMirror(cached(images.plain), cached(images.mirrored, mirror=True))
            elif isinstance(images, CaptionedImages) and len(images):
                self.splits[split] = cached(images)


def _mirrored_input(image, size: int) -> torch.Tensor:
    from ..image_decoding import to_model_input

    return mirror_image(to_model_input(image, size=size))
