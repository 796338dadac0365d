"""Binarized MNIST (the fixed binarization of Larochelle & Murray 2011, used by DRAW):
downloads the three .amat files and writes ``binarized_mnist.npz`` with uint8 arrays
train (50000, 784), valid (10000, 784), test (10000, 784).

    python datasets/binarized_mnist.py --out data/binarized_mnist
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
from _fetch import download

URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/binarized_mnist_{}.amat"
# sha256 of each split's uint8 array bytes (row-major), whatever the file it came from.
ARRAY_SHA256 = {
    "train": "43490d4d6ac9002727af4426d8748609fdb7e4094fa65ad8d681ea60082a7a5a",
    "valid": "069b4f0beb389b776478c3e872b4df71c95ac4be64d7cbe6d32e24ebac8e6d5e",
    "test": "ca0294c3b8d984c7a1dc891015a8eea6f37bae59a34e35ea0fc8c47110a8dd86",
}
COUNTS = {"train": 50000, "valid": 10000, "test": 10000}


def convert(
    amat_dir: Path, out: Path, checksums: dict[str, str] = ARRAY_SHA256, counts: dict[str, int] = COUNTS
) -> Path:
    arrays = {}
    for split, count in counts.items():
        array = np.loadtxt(amat_dir / f"binarized_mnist_{split}.amat", dtype=np.uint8)
        if array.shape != (count, 784) or array.max() > 1:
            raise SystemExit(f"binarized_mnist_{split}.amat: expected ({count}, 784) in {{0, 1}}, got {array.shape}")
        actual = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
        if actual != checksums[split]:
            raise SystemExit(f"binarized_mnist_{split}.amat: content sha256 {actual} differs from {checksums[split]}")
        arrays[split] = array
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "binarized_mnist.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    tmp.replace(out / "binarized_mnist.npz")
    return out / "binarized_mnist.npz"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    raw = args.out / "raw"
    for split in COUNTS:
        download(URL.format(split), raw / f"binarized_mnist_{split}.amat")
    print(convert(raw, args.out))


if __name__ == "__main__":
    main()
