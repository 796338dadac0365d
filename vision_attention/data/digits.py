"""Digit images for DRAW and MNISTCaptions: IDX files, binarized MNIST, torchvision sets.

* IDX (the MNIST / Fashion-MNIST file format, gzip or raw): :func:`read_idx`.
* MNIST from a folder of IDX files (official names, the ``train10k`` subset, or a
  torchvision ``MNIST/raw`` folder): :func:`load_mnist`.
* The standard fixed binarization of MNIST (Larochelle & Murray 2011), as
  ``binarized_mnist.npz`` (train/valid/test) or the original ``.amat`` files:
  :func:`load_binarized_mnist`.
* Dynamic binarization of grayscale digits: :class:`DynamicBinarized`.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_MNIST_NAMES = {
    True: (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "train10k-images-idx3-ubyte",
        "train10k-labels-idx1-ubyte",
    ),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (optionally gzip-compressed) as a numpy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"{path}: cannot read IDX file ({err})") from err
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    body = data[4 + 4 * ndim :]
    if len(body) != expected:
        raise ValueError(f"{path}: IDX header promises {expected} bytes of data, found {len(body)}")
    return np.frombuffer(body, dtype=dtype).reshape(shape)


def _find(root: Path, stem: str) -> Path | None:
    for folder in (root, root / "raw", root / "MNIST" / "raw", root / "FashionMNIST" / "raw"):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def load_mnist(root: str | Path, train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Digits (N, 28, 28) uint8 and labels (N,) from a folder of MNIST-format IDX files.

    Looks in ``root``, ``root/raw`` and torchvision's ``root/MNIST/raw`` (and
    ``FashionMNIST/raw``) for the official file names, then for the ``train10k``
    subset names.
    """
    root = Path(root)
    names = _MNIST_NAMES[train]
    for images_name, labels_name in zip(names[::2], names[1::2]):
        images_path, labels_path = _find(root, images_name), _find(root, labels_name)
        if images_path and labels_path:
            images, labels = read_idx(images_path), read_idx(labels_path)
            if len(images) != len(labels):
                raise ValueError(f"{images_path}: {len(images)} images but {len(labels)} labels in {labels_path}")
            return images, labels.astype(np.int64)
    raise FileNotFoundError(
        f"{root}: no MNIST {'training' if train else 'test'} IDX files (looked for {', '.join(names)})"
    )


def load_binarized_mnist(root: str | Path, split: str = "train") -> np.ndarray:
    """The fixed binarization of MNIST: (N, 28, 28) uint8 in {0, 1}.

    Args:
        root: folder with ``binarized_mnist.npz`` or ``binarized_mnist_{train,valid,test}.amat``.
        split: "train" (50000), "valid" (10000) or "test" (10000).
    """
    root = Path(root)
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be train, valid or test, got {split!r}")
    npz, amat = root / "binarized_mnist.npz", root / f"binarized_mnist_{split}.amat"
    if npz.is_file():
        with np.load(npz) as archive:
            if split not in archive:
                raise ValueError(f"{npz}: no array {split!r} (has {sorted(archive.files)})")
            data = archive[split]
    elif amat.is_file():
        data = np.loadtxt(amat, dtype=np.uint8)
    else:
        raise FileNotFoundError(f"{root}: neither binarized_mnist.npz nor {amat.name}")
    if data.ndim != 2 or data.shape[1] != 784 or data.max() > 1:
        raise ValueError(f"{root}: binarized MNIST {split} must be (N, 784) in {{0, 1}}, got {data.shape}")
    return data.reshape(-1, 28, 28)


class ImageArray(Dataset):
    """Images from an array (N, H, W) or (N, C, H, W) of uint8 (scaled to [0, 1]) or floats.

    Items are dicts with ``image`` (C, H, W) float and, when given, ``label``.
    """

    def __init__(self, images: np.ndarray | torch.Tensor, labels: np.ndarray | None = None) -> None:
        images = torch.as_tensor(np.asarray(images))
        if images.dim() == 3:
            images = images.unsqueeze(1)  # (N, 1, H, W)
        self.images = images.float() / 255 if images.dtype == torch.uint8 and images.max() > 1 else images.float()
        self.labels = None if labels is None else torch.as_tensor(labels)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        item = {"image": self.images[index]}
        if self.labels is not None:
            item["label"] = self.labels[index]
        return item


class DynamicBinarized(Dataset):
    """Grayscale images binarized afresh at every access: pixel ~ Bernoulli(intensity).

    Args:
        base: a data set whose items hold an ``image`` in [0, 1].
        seed: with a seed, each index always gets the same sample (for evaluation).
    """

    def __init__(self, base: Dataset, seed: int | None = None) -> None:
        self.base, self.seed = base, seed

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict:
        item = dict(self.base[index])
        generator = None if self.seed is None else torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        item["image"] = torch.bernoulli(item["image"], generator=generator)
        return item


class TorchvisionImages(Dataset):
    """A torchvision image data set (MNIST, FashionMNIST, CIFAR10, SVHN) whose files are
    already on disk, as dicts with ``image`` (C, H, W) in [0, 1] and ``label``.

    Args:
        name: "MNIST", "FashionMNIST", "CIFAR10" or "SVHN".
        root: the torchvision root folder.
        train: the training split (else the test split).
        download: let torchvision fetch the files when they are missing.
    """

    def __init__(self, name: str, root: str | Path, train: bool = True, download: bool = False) -> None:
        import torchvision
        from torchvision.transforms import functional as TF

        classes = {"MNIST", "FashionMNIST", "CIFAR10", "SVHN"}
        if name not in classes:
            raise ValueError(f"torchvision data set must be one of {sorted(classes)}, got {name!r}")
        cls = getattr(torchvision.datasets, name)
        kwargs = {"split": "train" if train else "test"} if name == "SVHN" else {"train": train}
        try:
            self.base = cls(str(root), download=download, **kwargs)
        except RuntimeError as err:  # torchvision's "Dataset not found" error
            raise FileNotFoundError(f"{root}: torchvision {name} files not found ({err})") from err
        self._to_tensor = TF.to_tensor

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict:
        image, label = self.base[index]
        return {"image": self._to_tensor(image), "label": torch.tensor(label)}
