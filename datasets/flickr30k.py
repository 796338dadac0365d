"""Flickr30k (Young et al. 2014; images under Flickr terms, for research): the images
are handed out through a request form, so the recipe takes the archive you received
and fetches the Karpathy split JSON (``dataset_flickr30k.json``).

    python datasets/flickr30k.py --images flickr30k-images.tar.gz --out data/flickr30k
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _fetch import extract_images, karpathy_json

EXPECTED_IMAGES = 31783


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, required=True, help="the flickr30k-images archive (.tar.gz or .zip)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not args.images.is_file():
        raise SystemExit(f"{args.images}: no such archive")
    count = extract_images(args.images, args.out / "images")
    if count != EXPECTED_IMAGES:
        raise SystemExit(f"{args.images}: expected {EXPECTED_IMAGES} images, found {count}")
    print(karpathy_json("flickr30k", args.out))


if __name__ == "__main__":
    main()
