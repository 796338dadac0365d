"""Flickr8k (Hodosh, Young & Hockenmaier 2013; research use only): downloads the
images and the text archive, and writes ``captions.txt`` (``image,caption``) and the
official split lists ``Flickr_8k.{train,dev,test}Images.txt`` (6000 / 1000 / 1000 images,
the same as the Karpathy splits) beside ``images/``: the layout the loaders read, splits
included. With ``--karpathy`` the Karpathy split JSON is fetched too (``dataset_flickr8k.json``).

    python datasets/flickr8k.py --out data/flickr8k [--karpathy]

No checksums are published for these archives; the recipe checks the counts
instead (8091 images, 5 captions each).
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

from _fetch import download, extract_images, karpathy_json

IMAGES_URL = "https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/Flickr8k_Dataset.zip"
TEXT_URL = "https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/Flickr8k_text.zip"


def token_file_to_captions(token_lines: list[str]) -> list[tuple[str, str]]:
    """Rows of ``Flickr8k.token.txt`` ("<image>#<n>\\t<caption>") as (image, caption)."""
    rows = []
    for number, line in enumerate(token_lines, start=1):
        if not line.strip():
            continue
        key, tab, caption = line.partition("\t")
        image, hash_, _ = key.partition("#")
        if not tab or not hash_:
            raise SystemExit(f"Flickr8k.token.txt:{number}: expected '<image>#<n>\\t<caption>', found {line[:60]!r}")
        rows.append((image, caption.strip()))
    return rows


def write_captions(rows: list[tuple[str, str]], path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("image,caption\n" + "".join(f"{image},{caption}\n" for image, caption in rows), encoding="utf-8")
    tmp.replace(path)


SPLIT_LISTS = {"Flickr_8k.trainImages.txt": 6000, "Flickr_8k.devImages.txt": 1000, "Flickr_8k.testImages.txt": 1000}


def write_split_lists(text_zip: zipfile.ZipFile, out: Path) -> None:
    """Copy the official split lists out of the text archive, counts checked."""
    for name, expected in SPLIT_LISTS.items():
        names = [line.strip() for line in text_zip.read(name).decode("utf-8").split("\n") if line.strip()]
        if len(names) != expected:
            raise SystemExit(f"{name}: expected {expected} images, found {len(names)}")
        tmp = out / (name + ".tmp")
        tmp.write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
        tmp.replace(out / name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--karpathy", action="store_true", help="also fetch dataset_flickr8k.json")
    args = parser.parse_args(argv)
    images_zip = download(IMAGES_URL, args.out / "Flickr8k_Dataset.zip")
    text_zip = download(TEXT_URL, args.out / "Flickr8k_text.zip")
    count = extract_images(images_zip, args.out / "images")
    with zipfile.ZipFile(text_zip) as zf:
        rows = token_file_to_captions(zf.read("Flickr8k.token.txt").decode("utf-8").split("\n"))
        write_split_lists(zf, args.out)
    if count != 8091 or len(rows) != 40460:
        print(f"warning: expected 8091 images and 40460 captions, found {count} and {len(rows)}")
    write_captions(rows, args.out / "captions.txt")
    if args.karpathy:
        karpathy_json("flickr8k", args.out)
    print(args.out)


if __name__ == "__main__":
    main()
