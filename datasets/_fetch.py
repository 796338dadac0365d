"""Download and verify helpers shared by the recipes (standard library only)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import urllib.request
from pathlib import Path


def digest(path: str | Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: str | Path, expected: str | None, algorithm: str = "sha256") -> None:
    """Raise when the file's hash differs from ``expected`` (None: nothing published to check)."""
    if expected is None:
        return
    actual = digest(path, algorithm)
    if actual != expected:
        raise SystemExit(f"{path}: {algorithm} {actual} differs from the published {expected}; delete it and retry")


def download(url: str, dest: str | Path, expected: str | None = None, algorithm: str = "sha256") -> Path:
    """Fetch ``url`` to ``dest`` (skipped when a verified copy exists); atomic: a partial
    download never takes the final name."""
    dest = Path(dest)
    if dest.is_file():
        verify(dest, expected, algorithm)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    print(f"downloading {url}", file=sys.stderr)
    with urllib.request.urlopen(url) as response, open(tmp, "wb") as out:
        shutil.copyfileobj(response, out)
    verify(tmp, expected, algorithm)
    os.replace(tmp, dest)
    return dest


KARPATHY_URL = "http://cs.stanford.edu/people/karpathy/deepimagesent/caption_datasets.zip"


def karpathy_json(name: str, out: Path) -> Path:
    """Fetch Karpathy's caption splits and extract ``dataset_<name>.json`` into ``out``."""
    import zipfile

    archive = download(KARPATHY_URL, Path(out) / "caption_datasets.zip")
    target = Path(out) / f"dataset_{name}.json"
    with zipfile.ZipFile(archive) as zf:
        target.write_bytes(zf.read(f"dataset_{name}.json"))
    return target


def extract_images(archive: Path, out: Path) -> int:
    """Extract every .jpg of a zip or tar archive into ``out`` (flat); returns the count."""
    import tarfile
    import zipfile

    out.mkdir(parents=True, exist_ok=True)
    count = 0
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                if member.lower().endswith(".jpg") and "__MACOSX" not in member:
                    (out / Path(member).name).write_bytes(zf.read(member))
                    count += 1
    else:
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                if member.isfile() and member.name.lower().endswith(".jpg"):
                    (out / Path(member.name).name).write_bytes(tf.extractfile(member).read())
                    count += 1
    return count
