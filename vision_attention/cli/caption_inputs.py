"""The photos a ``caption`` command names: files, folders (their subfolders with
``--recursive``) and glob patterns, each once, then decoded in a thread beside the model, at most
``MAX_SIDE`` pixels on their longer side, a batch ahead."""

from __future__ import annotations

import glob
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
MAX_SIDE = 2048  # photos are decoded at most this large: the model reads 224, the pages 360


def expand_inputs(
    specs: list[str], recursive: bool = False, skipped: dict[str, int] | None = None
) -> tuple[list[Path], list[str]]:
    """(the image files, in order and each once; one problem line per spec that names none).
    A folder gives its image files (by suffix, sorted; subfolders with ``recursive``), a
    pattern its matching files; a file is taken as it is, and a missing one is a problem.
    ``skipped`` counts, by suffix, the files of folders left out for not being images."""
    paths: list[Path] = []
    problems: list[str] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            files = [p for p in (path.rglob("*") if recursive else path.iterdir()) if p.is_file()]
            found = sorted(p for p in files if p.suffix.lower() in IMAGE_SUFFIXES)
            if skipped is not None:
                for p in files:
                    if p.suffix.lower() not in IMAGE_SUFFIXES:
                        skipped[p.suffix.lower() or "(no suffix)"] = (
                            skipped.get(p.suffix.lower() or "(no suffix)", 0) + 1
                        )
            if not found:
                problems.append(
                    f"{path}: no image files in this folder"
                    + ("" if recursive else " (--recursive looks in subfolders)")
                )
        elif path.is_file():
            found = [path]
        elif glob.has_magic(spec):
            found = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
            if not found:
                problems.append(f"{spec}: no file matches this pattern")
        else:
            found = []
            problems.append(f"{path}: no such image file")
        paths += found
    seen: set[Path] = set()
    unique = []
    for p in paths:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique, problems


def _load(path: Path):
    from ..data.image_decoding import BadImageError, load_rgb

    try:
        return load_rgb(path, max_side=MAX_SIDE), None
    except (BadImageError, FileNotFoundError, OSError) as err:
        return None, str(err)


def batches(paths: list[Path], size: int):
    """(paths, [(image or None, error or None)]) per batch; the next batch decodes meanwhile."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
        pending = pool.submit(lambda c: [_load(p) for p in c], chunks[0]) if chunks else None
        for i, chunk in enumerate(chunks):
            loaded = pending.result()
            if i + 1 < len(chunks):
                pending = pool.submit(lambda c: [_load(p) for p in c], chunks[i + 1])
            yield chunk, loaded
