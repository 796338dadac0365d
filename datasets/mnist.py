"""MNIST or Fashion-MNIST in IDX format (gzip), verified against the published md5s.
The loaders read the folder as it is.

    python datasets/mnist.py --out data/mnist
    python datasets/mnist.py --fashion --out data/fashion_mnist

Fashion-MNIST is also packaged by Debian (`apt-get install dataset-fashion-mnist`,
files under /usr/share/datasets/fashion-mnist/).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _fetch import download

MNIST = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
)
FASHION = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fashion", action="store_true", help="Fashion-MNIST instead of MNIST")
    args = parser.parse_args(argv)
    base, files = FASHION if args.fashion else MNIST
    for name, md5 in files.items():
        download(base + name, args.out / name, md5, "md5")
    print(args.out)


if __name__ == "__main__":
    main()
