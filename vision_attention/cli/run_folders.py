"""A training run's folder: held by one fit at a time, and the checkpoint ``--ckpt_path`` names in
it (``last``, ``best``, or a file) found and checked before any work."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from ..files.checkpoints import KEY, CheckpointError, find_run_checkpoint, read_checkpoint


@contextmanager
def hold_run_folder(root: str):
    """An exclusive lock on ``root/.fit.lock`` while the block runs (the kernel drops it if the
    process ends, however it ends); one line naming the holder if another fit has it."""
    import fcntl
    import os
    from pathlib import Path

    folder = Path(root)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / ".fit.lock", "a+")  # noqa: SIM115  held for the run
    except OSError as err:
        raise OSError(f"{folder}: cannot write in the run folder ({err.strerror})") from err
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise ValueError(
            f"{folder}: another fit is running in this run folder ({holder}); wait for it to end, "
            "or give another --trainer.default_root_dir"
        ) from None
    with handle:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def resolve_ckpt_path(ckpt_path: str | None, subcommand: str, root: str, module=None) -> str | None:
    """The checkpoint file ``--ckpt_path`` names. ``last`` and ``best`` are looked up under the
    trainer's ``default_root_dir`` across run versions (Lightning looks only in the new run's
    own folder, so after a restart it finds nothing). ``fit`` with nothing to resume says so
    and starts from step 0; ``validate``, ``test`` and ``predict`` refuse to score untrained
    weights. A named file is checked before any work (missing, damaged, unsafe, or weights
    that do not fit ``module``: one line, and no run folder made)."""
    if ckpt_path in ("last", "best"):
        found = find_run_checkpoint(ckpt_path, root)
        if found is None and subcommand == "fit":
            print(f"vision-attention: no {ckpt_path} checkpoint under {root}: training from step 0", file=sys.stderr)
            return None
        if found is None:
            raise CheckpointError(
                f"--ckpt_path {ckpt_path}: no {ckpt_path} checkpoint under {root} (train first, or name a file)"
            )
        ckpt_path = str(found)
    elif ckpt_path is None:
        if subcommand == "fit":
            return None
        raise CheckpointError(
            f"{subcommand} needs --ckpt_path: a checkpoint file, or last / best (the newest under {root})"
        )
    checkpoint = read_checkpoint(ckpt_path)
    if module is not None:
        check_fits(checkpoint, module, ckpt_path)
    return ckpt_path


def check_fits(checkpoint: dict, module, path: str) -> None:
    """Refuse, in one line naming the settings that differ, a checkpoint whose weights do not
    fit the LightningModule this config builds (a changed model dimension or vocabulary)."""
    state, own = checkpoint.get("state_dict", {}), module.state_dict()
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    missing, unexpected = [k for k in own if k not in state], [k for k in state if k not in own]
    if not (wrong or missing or unexpected):
        return
    saved = _flat(checkpoint.get(KEY, {}).get("model_config") or {})
    current = _flat(getattr(getattr(module, "model", None), "config", None) or {})
    differ = [
        f"{k} is {saved.get(k)!r} there, {current.get(k)!r} here"
        for k in sorted(set(saved) | set(current))
        if saved.get(k) != current.get(k)
    ]
    if differ:
        more = f" (and {len(differ) - 1} more)" if len(differ) > 1 else ""
        raise CheckpointError(f"{path}: its model differs from this config's: {differ[0]}{more}")
    first = wrong[0] if wrong else (missing or unexpected)[0]
    detail = (
        f"{first} is {tuple(state[first].shape)} there, {tuple(own[first].shape)} here"
        if wrong
        else f"{first} is {'missing there' if missing else 'not in this model'}"
    )
    raise CheckpointError(f"{path}: its weights do not fit this config's model: {detail}")


def _flat(config: dict, prefix: str = "") -> dict:
    """A nested config as {"encoder.name": ..., "hidden_dim": ...}."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
