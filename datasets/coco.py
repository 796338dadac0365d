"""MS COCO 2014 with the Karpathy splits (Lin et al. 2014; CC BY 4.0 annotations,
Flickr terms for images): downloads train2014 and val2014 and ``dataset_coco.json``,
whose ``filepath`` field names each image's folder. 113287 train (with restval),
5000 val, 5000 test images.

    python datasets/coco.py --out data/coco

COCO publishes no checksums for its image archives; the recipe checks the counts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _fetch import download, extract_images, karpathy_json

IMAGES = {"train2014": 82783, "val2014": 40504}
URL = "http://images.cocodataset.org/zips/{}.zip"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    for folder, expected in IMAGES.items():
        count = extract_images(download(URL.format(folder), args.out / f"{folder}.zip"), args.out / folder)
        if count != expected:
            raise SystemExit(f"{folder}.zip: expected {expected} images, found {count}")
    print(karpathy_json("coco", args.out))


if __name__ == "__main__":
    main()
