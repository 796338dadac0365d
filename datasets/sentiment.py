"""UCI Sentiment Labelled Sentences (Kotzias et al. 2015; CC BY 4.0): downloads the
archive and extracts the three ``*_labelled.txt`` files, each verified by sha256.

    python datasets/sentiment.py --out data/sentiment_labelled_sentences
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

from _fetch import download, verify

URL = "https://archive.ics.uci.edu/static/public/331/sentiment+labelled+sentences.zip"
SHA256 = {
    "amazon_cells_labelled.txt": "47003fc0a0d4840b00e96e715b6189bad09e7443a3da41c4cbe12ffc79f86ae3",
    "imdb_labelled.txt": "aef2e49e3da25714d61175e3a6e68eeef74a20a2f914318dc3be9947ea86512d",
    "yelp_labelled.txt": "c76468b7b5c6e56a0804d728345c5f84aa2142ddb214420f61cc9cfd4c00d2ea",
}


def extract(archive: Path, out: Path, checksums: dict[str, str] = SHA256) -> None:
    """Extract the labelled files wherever they sit in the archive, and verify them."""
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        members = {Path(m).name: m for m in zf.namelist() if not Path(m).name.startswith(".") and "__MACOSX" not in m}
        for name, sha in checksums.items():
            if name not in members:
                raise SystemExit(f"{archive}: {name} not found in the archive")
            target = out / name
            target.write_bytes(zf.read(members[name]))
            verify(target, sha)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    extract(download(URL, args.out / "sentiment_labelled_sentences.zip"), args.out)
    print(args.out)


if __name__ == "__main__":
    main()
