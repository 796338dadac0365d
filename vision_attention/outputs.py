"""The one rule for files a command writes: never an input, never an existing file unless
asked (``--overwrite``), and written atomically (a temporary file beside it, renamed into
place), so a failed or killed write leaves no half file and the old one untouched."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def check_output(path: str | Path, what: str, inputs: Iterable[str | Path] = (), overwrite: bool = False) -> Path:
    """``path`` if a command may write ``what`` there, else one line saying why not: it is
    one of the ``inputs`` (never written, even with ``overwrite``), a folder, or an existing
    file and ``overwrite`` is not set."""
    path = Path(path)
    if path.resolve() in {Path(p).resolve() for p in inputs}:
        raise ValueError(f"{what} {path} is one of the inputs: it would be overwritten")
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder, not a file")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{what} {path} exists: pass --overwrite to replace it")
    return path


def check_outputs(
    paths: Iterable[str | Path], what: str, inputs: Iterable[str | Path] = (), overwrite: bool = False
) -> None:
    """:func:`check_output` for many files at once, before any is written: one line naming the
    first that may not be written and how many such there are."""
    inputs = list(inputs)
    problems = []
    for path in paths:
        try:
            check_output(path, what, inputs, overwrite)
        except (ValueError, FileExistsError) as err:
            problems.append(err)
    if problems:
        more = f" ({len(problems) - 1} more like it)" if len(problems) > 1 else ""
        raise type(problems[0])(f"{problems[0]}{more}")


def write_atomically(path: str | Path, write) -> Path:
    """``write(tmp)`` to a temporary file beside ``path``, renamed into place: a failed write
    leaves no half file and the old one, if any, untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def figure_paths(folder: Path, images: list[Path]) -> list[Path]:
    """One attention figure per image, ``<file name>.attention.png`` in ``folder``: named after
    the whole file name (``a.png`` and ``a.jpg`` differ), numbered when two inputs share a
    name, and never the path of an input, so no input and no other figure is overwritten."""
    inputs = {p.resolve() for p in images}
    taken: set[Path] = set()
    paths = []
    for image in images:
        candidate, n = folder / f"{image.name}.attention.png", 1
        while candidate.resolve() in taken or candidate.resolve() in inputs:
            n += 1
            candidate = folder / f"{image.name}.attention-{n}.png"
        taken.add(candidate.resolve())
        paths.append(candidate)
    return paths
