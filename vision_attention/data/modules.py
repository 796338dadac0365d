"""LightningDataModules: everything a model trains on comes through here.

Each module has deterministic splits, a padding collate with lengths, and
``num_workers``. Caption modules build their :class:`Vocabulary` in ``setup`` and
keep it in their ``state_dict`` so that it travels inside checkpoints.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

import lightning as L
import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset

from .caption_files import apply_split_lists, check_images, read_captions_txt, read_karpathy_json, seeded_split, split_lists_present
from .captioning import CaptionedImages, CaptionItems, collate_captions, pad_captions
from .dates import DatePairs, characters, make_pairs
from .feature_cache import CachedFeatures, FeatureCache
from .digits import DynamicBinarized, ImageArray, TorchvisionImages, load_binarized_mnist, load_mnist
from .mnist_captions import MNISTCaptions
from .sentiment import SentenceLabels, read_sentiment, split_indices
from .shapes import ShapesCaptions
from .images import collate_images
from ..vocab import Vocabulary, tokenize


def weights_fingerprint(module: torch.nn.Module) -> str:
    """A hash of a module's weights, so that caches of differently trained encoders differ."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def data_root(subfolder: str) -> Path | None:
    """``$VISION_ATTENTION_DATA/subfolder`` when the variable is set."""
    root = os.environ.get("VISION_ATTENTION_DATA")
    return Path(root) / subfolder if root else None


def _require(path: str | Path | None, what: str, env_folder: str) -> Path:
    if path is None:
        path = data_root(env_folder)
    if path is None:
        raise FileNotFoundError(f"{what}: give its folder, or set VISION_ATTENTION_DATA (looked for {env_folder}/ in it)")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what}: {path} does not exist")
    return path


class CaptionDataModule(L.LightningDataModule):
    """Shared loaders of the caption modules; subclasses provide the splits.

    Args:
        batch_size: images per training batch.
        num_workers: DataLoader worker processes.
    """

    def __init__(self, batch_size: int = 64, num_workers: int = 0) -> None:
        super().__init__()
        self.batch_size, self.num_workers = batch_size, num_workers
        self.vocab: Vocabulary | None = None
        self.splits: dict[str, Dataset] = {}

    def make_splits(self) -> dict[str, Dataset]:
        raise NotImplementedError

    def make_vocab(self) -> Vocabulary:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if not self.splits:
            self.splits = self.make_splits()
        if self.vocab is None:
            self.vocab = self.make_vocab()

    @property
    def vocab_size(self) -> int:
        self.setup()
        return len(self.vocab)

    def _loader(self, split: str, train: bool) -> DataLoader:
        self.setup()
        return DataLoader(
            CaptionItems(self.splits[split], self.vocab, train),
            batch_size=self.batch_size,
            shuffle=train,
            num_workers=self.num_workers,
            collate_fn=collate_captions,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", False)

    def state_dict(self) -> dict:
        return {"vocab": self.vocab.to_dict()} if self.vocab is not None else {}

    def load_state_dict(self, state_dict: dict) -> None:
        if "vocab" in state_dict:
            self.vocab = Vocabulary.from_dict(state_dict["vocab"])


class ShapesCaptionsDataModule(CaptionDataModule):
    """ShapesCaptions, generated on the fly: no files needed.

    Args:
        train_size: training scenes.
        val_size: validation scenes.
        test_size: test scenes.
        test_split: "test", or "compositional" for unseen (colour, shape) pairs.
        image_size: image side in pixels.
        max_objects: objects per scene, 1..max_objects.
        eval_max_objects: objects per validation and test scene, if not ``max_objects``
            (e.g. train on 1-3 objects, evaluate on 1-2).
        seed: the data set's seed.
        batch_size: images per batch.
        num_workers: DataLoader worker processes.
        extra_train_splits: further splits whose scenes join training (``train_size`` each),
            drawn with ``seed + 1`` so they are never the scenes evaluated; for a judge
            that must read every combination, e.g. ["compositional"].
    """

    def __init__(
        self,
        train_size: int = 20000,
        val_size: int = 500,
        test_size: int = 1000,
        test_split: Literal["test", "compositional"] = "test",
        image_size: int = 64,
        max_objects: int = 3,
        eval_max_objects: int | None = None,
        seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
        extra_train_splits: tuple[str, ...] = (),
    ) -> None:
        super().__init__(batch_size, num_workers)
        self.save_hyperparameters()

    def make_splits(self) -> dict[str, Dataset]:
        h = self.hparams
        def make(split: str, n: int, seed: int = h.seed, objects: int = h.max_objects) -> ShapesCaptions:
            return ShapesCaptions(split, n, h.image_size, seed, objects)

        extra = [make(split, h.train_size, h.seed + 1) for split in h.extra_train_splits]
        train = ConcatDataset([make("train", h.train_size), *extra]) if extra else make("train", h.train_size)
        evaluated = h.eval_max_objects or h.max_objects
        return {"train": train, "val": make("val", h.val_size, objects=evaluated),
                "test": make(h.test_split, h.test_size, objects=evaluated)}

    def make_vocab(self) -> Vocabulary:
        return Vocabulary(ShapesCaptions.words())


class MNISTCaptionsDataModule(CaptionDataModule):
    """MNISTCaptions from MNIST IDX files (train digits for train/val, test digits for test).

    Args:
        root: folder with MNIST IDX files; defaults to ``$VISION_ATTENTION_DATA/mnist``.
        train_size: training scenes.
        val_size: validation scenes.
        test_size: test scenes.
        test_split: "test", or "compositional" for digit pairs never seen in that order.
        seed: the data set's seed.
        batch_size: images per batch.
        num_workers: DataLoader worker processes.
        extra_train_splits: further splits whose scenes join training (``train_size`` each,
            from the training digits, with ``seed + 1``); for a judge, e.g. ["compositional"].
    """

    def __init__(
        self,
        root: str | None = None,
        train_size: int = 20000,
        val_size: int = 1000,
        test_size: int = 2000,
        test_split: Literal["test", "compositional"] = "test",
        seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
        extra_train_splits: tuple[str, ...] = (),
    ) -> None:
        super().__init__(batch_size, num_workers)
        self.save_hyperparameters()

    def make_splits(self) -> dict[str, Dataset]:
        h = self.hparams
        root = _require(h.root, "MNIST", "mnist")
        digits, labels = load_mnist(root, train=True)
        cut = int(len(digits) * 0.9)  # the last tenth of the training digits serves validation
        test_digits, test_labels = load_mnist(root, train=False)
        train = MNISTCaptions(digits[:cut], labels[:cut], "train", h.train_size, h.seed)
        extra = [MNISTCaptions(digits[:cut], labels[:cut], split, h.train_size, h.seed + 1) for split in h.extra_train_splits]
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
        batch_size: int = 32,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers)
        self.save_hyperparameters()

    def records(self):
        h = self.hparams
        path = Path(h.annotations)
        if not path.is_file():
            raise FileNotFoundError(f"caption annotations {path} not found")
        root = Path(h.image_root) if h.image_root else (path.parent / "images" if (path.parent / "images").is_dir() else path.parent)
        if path.suffix == ".json":
            records = read_karpathy_json(path, root)
        elif split_lists_present(path.parent):
            records = apply_split_lists(read_captions_txt(path, root), path.parent)
        else:
            records = seeded_split(read_captions_txt(path, root), h.val_share, h.test_share, h.split_seed)
        check_images(records)
        return records

    def make_splits(self) -> dict[str, Dataset]:
        from functools import partial

        from .images import to_model_input

        h = self.hparams
        self._records = self.records()
        transform = partial(to_model_input, size=h.image_size)  # the Captioner's own preprocessing
        by_split = {s: [r for r in self._records if r.split == s] for s in ("train", "val", "test")}
        return {s: CaptionedImages(rs, transform, h.skip_bad_images) for s, rs in by_split.items()}

    def make_vocab(self) -> Vocabulary:
        train = self.splits["train"].records
        return Vocabulary.build((c for r in train for c in r.captions), self.hparams.min_count)

    def use_encoder(self, encoder: torch.nn.Module) -> None:
        """Replace the images of every split by the cached features of a frozen ``encoder``,
        computing them once (keyed by the encoder's name, settings and weights)."""
        if self.hparams.feature_cache is None:
            return
        if any(p.requires_grad for p in encoder.parameters()):
            raise ValueError("feature_cache needs a frozen encoder (trainable_blocks: 0)")
        self.setup()
        device = self.trainer.strategy.root_device if self.trainer is not None else "cpu"  # the GPU when training on one
        config = getattr(encoder, "config", {"name": type(encoder).__name__})
        settings = {**config, "image_size": self.hparams.image_size, "weights": weights_fingerprint(encoder)}
        for split, images in list(self.splits.items()):
            if not isinstance(images, CaptionedImages) or not len(images):
                continue
            cache = FeatureCache(self.hparams.feature_cache, config["name"], settings, [str(r.path) for r in images.records])
            features = cache.get_or_build(images, encoder, device=device)
            self.splits[split] = CachedFeatures(features, [r.captions for r in images.records])


class ImagesDataModule(L.LightningDataModule):
    """Images for DRAW: binarized MNIST, MNIST / Fashion-MNIST IDX, torchvision sets, or
    ShapesCaptions images. Items are dicts with ``image`` (C, H, W) in [0, 1].

    Args:
        source: "binarized_mnist" (fixed binarization, train/valid/test), "mnist" or
            "fashion_mnist" (IDX files), "cifar10" / "svhn" (torchvision files), or "shapes".
        root: data folder; defaults to ``$VISION_ATTENTION_DATA/<source>``.
        binarize: "dynamic" draws each pixel ~ Bernoulli(intensity) at every visit
            (evaluation uses a fixed draw); "none" keeps intensities.
        val_size: images held out of training for validation (sources without a
            validation split).
        train_size: cap on training images (all when None); shapes: scenes to generate.
        test_size: shapes: test scenes.
        seed: seed of the held-out split and of shapes.
        batch_size: images per batch.
        num_workers: DataLoader worker processes.
        image_size: shapes: side of the generated images.
    """

    def __init__(
        self,
        source: Literal["binarized_mnist", "mnist", "fashion_mnist", "cifar10", "svhn", "shapes"] = "binarized_mnist",
        root: str | None = None,
        binarize: Literal["none", "dynamic"] = "none",
        val_size: int = 5000,
        train_size: int | None = None,
        test_size: int = 2000,
        seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
        image_size: int = 64,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.splits: dict[str, Dataset] = {}

    def _load(self) -> dict[str, Dataset]:
        h = self.hparams
        if h.source == "shapes":
            make = lambda split, n: _ImagesOnly(ShapesCaptions(split, n, image_size=h.image_size, seed=h.seed))  # noqa: E731
            return {"train": make("train", h.train_size or 20000), "val": make("val", h.val_size), "test": make("test", h.test_size)}
        if h.source == "binarized_mnist":
            root = _require(h.root, "binarized MNIST", "binarized_mnist")
            return {s: ImageArray(load_binarized_mnist(root, f)) for s, f in (("train", "train"), ("val", "valid"), ("test", "test"))}
        if h.source in ("mnist", "fashion_mnist"):
            root = _require(h.root, h.source, h.source)
            (train, train_y), (test, test_y) = load_mnist(root, True), load_mnist(root, False)
            full, test_set = ImageArray(train, train_y), ImageArray(test, test_y)
        else:
            root = _require(h.root, h.source, h.source)
            name = {"cifar10": "CIFAR10", "svhn": "SVHN"}[h.source]
            full, test_set = TorchvisionImages(name, root, True), TorchvisionImages(name, root, False)
        train_idx, val_idx = split_indices(len(full), h.val_size / len(full), h.seed)
        return {"train": Subset(full, train_idx), "val": Subset(full, val_idx), "test": test_set}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        h = self.hparams
        splits = self._load()
        if h.train_size is not None and h.source != "shapes":
            splits["train"] = Subset(splits["train"], range(min(h.train_size, len(splits["train"]))))
        if h.binarize == "dynamic":
            splits = {s: DynamicBinarized(d, seed=None if s == "train" else h.seed) for s, d in splits.items()}
        self.splits = splits

    @property
    def image_shape(self) -> tuple[int, int, int]:
        self.setup()
        return tuple(self.splits["train"][0]["image"].shape)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        self.setup()
        return DataLoader(self.splits[split], batch_size=self.hparams.batch_size, shuffle=shuffle, collate_fn=collate_images,
                          num_workers=self.hparams.num_workers, persistent_workers=self.hparams.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)


class _ImagesOnly(Dataset):
    def __init__(self, base: Dataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict:
        return {"image": self.base[index]["image"]}


class SentimentDataModule(L.LightningDataModule):
    """UCI sentiment sentences as in the LSTM + attention tutorial.

    Args:
        root: folder of the three files; defaults to
            ``$VISION_ATTENTION_DATA/sentiment_labelled_sentences``.
        sources: which files ("amazon", "yelp", "imdb").
        max_len: sentences padded at the end (or cut) to this many tokens.
        val_share: share held out for validation.
        seed: seed of the split.
        split: "shuffled" (a seeded shuffle) or "tail" (the last ``val_share`` of the files,
            Keras' ``validation_split``, which the tutorial's figures come from).
        min_count: rarer training words become ``<unk>``.
        batch_size: sentences per batch.
        num_workers: DataLoader worker processes.
    """

    def __init__(
        self,
        root: str | None = None,
        sources: tuple[str, ...] = ("amazon", "yelp"),
        max_len: int = 32,
        val_share: float = 0.2,
        seed: int = 0,
        split: str = "shuffled",
        min_count: int = 1,
        batch_size: int = 100,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.vocab: Vocabulary | None = None
        self.splits: dict[str, Dataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        h = self.hparams
        pairs = read_sentiment(_require(h.root, "UCI sentiment", "sentiment_labelled_sentences"), tuple(h.sources))
        train_idx, val_idx = split_indices(len(pairs), h.val_share, h.seed, h.split)
        train = [pairs[i] for i in train_idx]
        self.vocab = self.vocab or Vocabulary.build((tokenize(s) for s, _ in train), h.min_count)
        self.splits = {"train": SentenceLabels(train, self.vocab, h.max_len),
                       "val": SentenceLabels([pairs[i] for i in val_idx], self.vocab, h.max_len)}

    @property
    def vocab_size(self) -> int:
        self.setup()
        return len(self.vocab)

    def train_dataloader(self) -> DataLoader:
        self.setup()
        return DataLoader(self.splits["train"], self.hparams.batch_size, shuffle=True, num_workers=self.hparams.num_workers)

    def val_dataloader(self) -> DataLoader:
        self.setup()
        return DataLoader(self.splits["val"], self.hparams.batch_size, num_workers=self.hparams.num_workers)

    def state_dict(self) -> dict:
        return {"vocab": self.vocab.to_dict()} if self.vocab is not None else {}

    def load_state_dict(self, state_dict: dict) -> None:
        if "vocab" in state_dict:
            self.vocab = Vocabulary.from_dict(state_dict["vocab"])


def collate_dates(items: list[dict]) -> dict:
    """Pad sources and targets: ``source`` (B, S), ``source_lengths``, ``target`` (B, T), ``target_lengths``."""
    source, source_lengths = pad_captions([it["source"] for it in items])
    target, target_lengths = pad_captions([it["target"] for it in items])
    return {"source": source, "source_lengths": source_lengths, "target": target, "target_lengths": target_lengths}


class DatesDataModule(L.LightningDataModule):
    """The synthetic date-normalisation task, character level.

    Args:
        train_size: training pairs.
        val_size: validation pairs.
        test_size: held-out test pairs (no source string shared with training).
        seed: the task's seed.
        batch_size: pairs per batch.
        num_workers: DataLoader worker processes.
    """

    def __init__(self, train_size: int = 20000, val_size: int = 1000, test_size: int = 2000, seed: int = 0,
                 batch_size: int = 64, num_workers: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters()
        source_chars, target_chars = characters()
        # One character vocabulary for both sides (ISO dates use characters sources have),
        # so models can share embeddings and take one ``vocab_size``.
        self.vocab = Vocabulary(sorted(set(source_chars) | set(target_chars)))
        self.source_vocab = self.target_vocab = self.vocab
        self.splits: dict[str, Dataset] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        h = self.hparams
        pairs = make_pairs(h.train_size + h.val_size + h.test_size, h.seed)
        cuts = np.cumsum([h.train_size, h.val_size])
        parts = {"train": pairs[: cuts[0]], "val": pairs[cuts[0] : cuts[1]], "test": pairs[cuts[1] :]}
        self.splits = {s: DatePairs(p, self.source_vocab, self.target_vocab) for s, p in parts.items()}

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        self.setup()
        return DataLoader(self.splits[split], self.hparams.batch_size, shuffle=shuffle,
                          num_workers=self.hparams.num_workers, collate_fn=collate_dates)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)
