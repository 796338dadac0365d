"""Images alone, for DRAW: binarized MNIST, MNIST, Fashion-MNIST, CIFAR-10, SVHN or
generated shapes, batched as ``{"images"}``."""

from __future__ import annotations

from typing import Literal

from torch.utils.data import Dataset, Subset

from ..digits import DynamicBinarized, ImageArray, TorchvisionImages, load_binarized_mnist, load_mnist
from ..image_decoding import collate_images
from ..sentiment import split_indices
from ..shapes import ShapesCaptions
from .splits import SplitsDataModule, _require


class ImagesDataModule(SplitsDataModule):
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

    collate = staticmethod(collate_images)
    has_words = False

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

    def _load(self) -> dict[str, Dataset]:
        h = self.hparams
        if h.source == "shapes":
            make = lambda split, n: _ImagesOnly(ShapesCaptions(split, n, image_size=h.image_size, seed=h.seed))
            return {
                "train": make("train", h.train_size or 20000),
                "val": make("val", h.val_size),
                "test": make("test", h.test_size),
            }
        if h.source == "binarized_mnist":
            root = _require(h.root, "binarized MNIST", "binarized_mnist", "python datasets/binarized_mnist.py")
            return {
                s: ImageArray(load_binarized_mnist(root, f))
                for s, f in (("train", "train"), ("val", "valid"), ("test", "test"))
            }
        if h.source in ("mnist", "fashion_mnist"):
            recipe = "python datasets/mnist.py" + (" --fashion" if h.source == "fashion_mnist" else "")
            root = _require(h.root, h.source, h.source, recipe)
            (train, train_y), (test, test_y) = load_mnist(root, True), load_mnist(root, False)
            full, test_set = ImageArray(train, train_y), ImageArray(test, test_y)
        else:
            root = _require(h.root, h.source, h.source)
            name = {"cifar10": "CIFAR10", "svhn": "SVHN"}[h.source]
            full, test_set = TorchvisionImages(name, root, True), TorchvisionImages(name, root, False)
        train_idx, val_idx = split_indices(len(full), h.val_size / len(full), h.seed)
        return {"train": Subset(full, train_idx), "val": Subset(full, val_idx), "test": test_set}

    def make_splits(self) -> dict[str, Dataset]:
        h = self.hparams
        splits = self._load()
        if h.train_size is not None and h.source != "shapes":
            splits["train"] = Subset(splits["train"], range(min(h.train_size, len(splits["train"]))))
        if h.binarize == "dynamic":
            splits = {s: DynamicBinarized(d, seed=None if s == "train" else h.seed) for s, d in splits.items()}
        return splits

    @property
    def image_shape(self) -> tuple[int, int, int]:
        self.setup()
        return tuple(self.splits["train"][0]["image"].shape)


class _ImagesOnly(Dataset):
    def __init__(self, base: Dataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict:
        return {"image": self.base[index]["image"]}
