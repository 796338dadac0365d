"""The one rule for files a command writes, and what it promises:

* never an input, nor a file inside the model folder in use or the package's shipped models,
  not even with ``--overwrite``;
* never an existing file unless asked (``--overwrite``); a device or a FIFO (``/dev/null``,
  ``/dev/stdout``) is written into, never replaced by a file;
* checked before any work starts: the folder must take a new file (permissions, a read-only
  disk), and the output is claimed, so that a second run writing the same file at the same
  time is refused instead of silently losing the first one's work;
* written atomically (a temporary file beside it, renamed into place), so a failed or killed
  write leaves no half file and the old one untouched.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import stat
from collections.abc import Iterable
from pathlib import Path

# The package's shipped models (pretrained.ROOT, a test holds the two equal; named here, not
# imported, since reading a shipped model's config reaches this floor).
SHIPPED_ROOT = Path(__file__).resolve().parents[1] / "pretrained"
_CLAIMS: dict[Path, int] = {}  # output -> the descriptor of its locked claim file


def refuse_shipped(path: str | Path, what: str) -> None:
    """One line when ``path`` lies inside the package's shipped models, which are never written."""
    shipped, resolved = SHIPPED_ROOT.resolve(), Path(path).resolve()
    if resolved == shipped or shipped in resolved.parents:
        raise ValueError(f"{what} {path} is inside the package's shipped models, which are never written")


def is_stream(path: Path) -> bool:
    """A character device or a FIFO: written into, never replaced."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def check_output(
    path: str | Path,
    what: str,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
    folders: Iterable[str | Path] = (),
    claim: bool = True,
) -> Path:
    """``path`` if a command may write ``what`` there, else one line saying why not: it is one
    of the ``inputs`` or inside one of the ``folders`` (a model folder in use) or the shipped
    models (never written, even with ``overwrite``), a folder, something other than a file, an
    existing file and ``overwrite`` is not set, in a folder that takes no new file, or claimed
    by another run. With ``claim`` the output is claimed until it is written."""
    path = Path(path)
    resolved = path.resolve()
    if resolved in {Path(p).resolve() for p in inputs}:
        raise ValueError(f"{what} {path} is one of the inputs: it would be overwritten")
    refuse_shipped(path, what)
    for folder in folders:
        if Path(folder).resolve() in resolved.parents:
            raise ValueError(f"{what} {path} is inside the model folder {folder}, whose files are never written")
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder, not a file")
    if is_stream(path):
        return path
    if path.exists() and not path.is_file():
        raise ValueError(f"{what} {path} is not a regular file (a socket or a block device): it is not replaced")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{what} {path} exists: pass --overwrite to replace it")
    if claim:
        claim_output(path, what)
    else:
        check_folder_takes_files(path.parent, what)
    return path


def check_outputs(
    paths: Iterable[str | Path],
    what: str,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
    folders: Iterable[str | Path] = (),
) -> None:
    """:func:`check_output` for many files at once (unclaimed), before any is written: one line
    naming the first that may not be written and how many such there are."""
    inputs, folders = list(inputs), list(folders)
    problems = []
    for path in paths:
        try:
            check_output(path, what, inputs, overwrite, folders, claim=False)
        except (ValueError, OSError) as err:
            problems.append(err)
    if problems:
        more = f" ({len(problems) - 1} more like it)" if len(problems) > 1 else ""
        raise type(problems[0])(f"{problems[0]}{more}")


def check_folder_takes_files(folder: Path, what: str) -> None:
    """One line when no new file can be made in ``folder`` (made if missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-check.{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise OSError(f"{what}: cannot write in {folder} ({err.strerror or err})") from err


def claim_output(path: Path, what: str) -> None:
    """Claim ``path`` for this process until :func:`write_atomically` writes it (or the process
    ends): a locked claim file beside it. Another run's live claim is one line."""
    path = Path(path)
    if path.resolve() in _CLAIMS:
        return
    claim = path.parent / f".{path.name}.claim"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(claim, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise OSError(f"{what} {path}: cannot write in {path.parent} ({err.strerror or err})") from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        raise FileExistsError(f"{what} {path} is being written by another run (pid {holder}) at this moment") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    _CLAIMS[path.resolve()] = fd


def release(path: str | Path) -> None:
    """Give up the claim on ``path``, if this process holds one."""
    resolved = Path(path).resolve()
    fd = _CLAIMS.pop(resolved, None)
    if fd is not None:
        Path(resolved.parent / f".{resolved.name}.claim").unlink(missing_ok=True)
        os.close(fd)


@atexit.register
def _release_all() -> None:
    for path in list(_CLAIMS):
        release(path)


def write_atomically(path: str | Path, write) -> Path:
    """``write(tmp)`` to a temporary file beside ``path``, renamed into place: a failed write
    leaves no half file and the old one, if any, untouched. A device or FIFO is written into."""
    path = Path(path)
    try:
        if is_stream(path):
            write(path)
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path
    finally:
        release(path)


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
