import gzip
import hashlib
import struct

import numpy as np
import pytest
import torch

from vision_attention.data import (
    DynamicBinarized,
    ImageArray,
    ImagesDataModule,
    load_binarized_mnist,
    load_mnist,
    read_idx,
)


def write_idx(path, array, compress):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    with (gzip.open if compress else open)(path, "wb") as f:  # closed here: Python 3.12's gzip buffers writes
        f.write(data)


def test_idx_round_trip_and_bad_files(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels, False)
    x, y = load_mnist(tmp_path, train=False)
    assert np.array_equal(x, images) and y.tolist() == [3, 1, 4, 1, 5]
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 9, 1, 2]))
    with pytest.raises(ValueError, match="short: IDX header promises 9 bytes"):
        read_idx(tmp_path / "short")
    (tmp_path / "junk").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="junk: not an IDX file"):
        read_idx(tmp_path / "junk")
    with pytest.raises(FileNotFoundError, match="no MNIST training IDX files"):
        load_mnist(tmp_path, train=True)


def test_binarized_mnist_npz_and_amat(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {s: rng.integers(0, 2, (n, 784), dtype=np.uint8) for s, n in (("train", 6), ("valid", 2), ("test", 3))}
    np.savez(tmp_path / "binarized_mnist.npz", **arrays)
    assert load_binarized_mnist(tmp_path, "test").shape == (3, 28, 28)
    amat = tmp_path / "amat"
    amat.mkdir()
    np.savetxt(amat / "binarized_mnist_valid.amat", arrays["valid"], fmt="%d")
    assert np.array_equal(load_binarized_mnist(amat, "valid").reshape(2, 784), arrays["valid"])
    with pytest.raises(FileNotFoundError, match="binarized_mnist_train.amat"):
        load_binarized_mnist(amat, "train")


def test_dynamic_binarization_is_bernoulli_and_fixed_for_evaluation():
    base = ImageArray(np.full((2, 28, 28), 77, dtype=np.uint8))  # intensity 77/255
    assert torch.allclose(base[0]["image"], torch.full((1, 28, 28), 77 / 255))
    fixed = DynamicBinarized(base, seed=1)
    assert torch.equal(fixed[0]["image"], fixed[0]["image"])
    fresh = DynamicBinarized(base)
    draws = torch.stack([fresh[0]["image"] for _ in range(200)])
    assert set(draws.unique().tolist()) == {0.0, 1.0}
    assert abs(draws.mean().item() - 77 / 255) < 0.01


def test_real_binarized_mnist_and_mnist_counts(data_dir):
    dm = ImagesDataModule("binarized_mnist", root=str(data_dir / "binarized_mnist"))
    dm.setup()
    assert [len(dm.splits[s]) for s in ("train", "val", "test")] == [50000, 10000, 10000]
    assert dm.image_shape == (1, 28, 28)
    train = load_binarized_mnist(data_dir / "binarized_mnist", "train")
    assert abs(train.mean() - 0.1306) < 1e-3
    x, _y = load_mnist(data_dir / "mnist", train=False)
    assert x.shape == (10000, 28, 28)
    assert (
        hashlib.md5(gzip.decompress((data_dir / "mnist" / "t10k-images-idx3-ubyte.gz").read_bytes())).hexdigest()
        == "2646ac647ad5339dbf082846283269ea"
    )
    _, train_labels = load_mnist(data_dir / "mnist", train=True)
    assert np.bincount(train_labels).tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]


def test_torchvision_classes_read_files_already_on_disk(tmp_path):
    from vision_attention.data import TorchvisionImages

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(1).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    for split in ("train", "t10k"):  # torchvision wants both splits present
        write_idx(raw / f"{split}-images-idx3-ubyte", images, False)
        write_idx(raw / f"{split}-labels-idx1-ubyte", np.array([7, 2, 1], dtype=np.uint8), False)
    data = TorchvisionImages("MNIST", tmp_path, train=False)
    assert len(data) == 3 and int(data[1]["label"]) == 2
    torch.testing.assert_close(data[0]["image"][0], torch.from_numpy(images[0]).float() / 255)
    with pytest.raises(FileNotFoundError, match="CIFAR10"):
        TorchvisionImages("CIFAR10", tmp_path)
    assert np.array_equal(load_mnist(tmp_path, train=False)[0], images)  # the IDX loader finds MNIST/raw too


def test_a_missing_data_folder_says_which_recipe_writes_it(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as err:
        ImagesDataModule(source="fashion_mnist", root=str(missing)).setup("fit")
    assert (
        str(err.value)
        == f"fashion_mnist: {missing} does not exist; `python datasets/mnist.py --fashion --out {missing}` writes it"
    )
    monkeypatch.delenv("VISION_ATTENTION_DATA", raising=False)
    with pytest.raises(
        FileNotFoundError, match=r"looked for binarized_mnist/ in it\); `python datasets/binarized_mnist.py --out DIR`"
    ):
        ImagesDataModule(source="binarized_mnist").setup("fit")
