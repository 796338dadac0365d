"""LightningCLI for every experiment in ``train/``: models and data modules are chosen in
the YAML by ``class_path``; the vocabulary size of captioners is read from the data.
Checkpoints are written atomically (see :class:`AtomicCheckpointIO`)."""

from __future__ import annotations

import argparse
import re
import signal
from contextlib import contextmanager
from pathlib import Path

from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities.exceptions import SIGTERMException

from .checkpoints import KEY, CheckpointError, atomic_save, find_run_checkpoint, read_checkpoint
from .lit.callbacks import SaveLastOnStop

DEFAULTS = str(Path(__file__).with_name("train_defaults.yaml"))  # what every train/ YAML shares


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file and renames it into place: a run killed at
    any moment leaves checkpoints that either load or are absent, never half-written."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        from pathlib import Path

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_save(checkpoint, path)


class VisionAttentionCLI(LightningCLI):
    @staticmethod
    def subcommands() -> dict:
        """fit, validate and test. No predict: the models' outputs are captions, drawings,
        labels and translations, which ``caption``, ``draw``, ``classify`` and ``translate`` write."""
        commands = LightningCLI.subcommands()
        commands.pop("predict")
        return commands

    def parse_arguments(self, parser, args) -> None:
        """Parse, then take ``--ckpt_path`` out of the config: Lightning would otherwise overwrite
        the config with the hyperparameters stored in that checkpoint, silently undoing flags
        such as ``validate --model.beam_size 1``. Here the config and flags say how to run; the
        checkpoint gives the weights (a model of another shape fails to load), resolved by the
        subcommand methods below."""
        super().parse_arguments(parser, args)
        command = self.config.get("subcommand")
        self.requested_ckpt_path = self.config[command].get("ckpt_path") if command else None
        if self.requested_ckpt_path is not None:
            self.config[command].ckpt_path = None

    def resolved(self, subcommand: str, kwargs: dict) -> dict:
        """The subcommand's arguments with ``--ckpt_path`` resolved (:func:`resolve_ckpt_path`)."""
        root = self.trainer.default_root_dir
        return {**kwargs, "ckpt_path": resolve_ckpt_path(self.requested_ckpt_path, subcommand, root, self.model)}

    def instantiate_trainer(self, **kwargs):
        """The trainer, writing checkpoints atomically unless the config names its own
        CheckpointIO. Set here, not in ``trainer_defaults``: jsonargparse cannot write a plugin
        instance into the run's ``config.yaml``, which then failed to run again."""
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        return trainer

    def fit(self, **kwargs) -> None:
        """``trainer.fit`` holding the run folder: a second fit in the same ``default_root_dir``
        at the same time would pick the same version folder and write over the first's files.
        Only the first process holds it: DDP starts the other ranks as copies of this command."""
        kwargs = self.resolved("fit", kwargs)
        if not first_process():
            return self.trainer.fit(**kwargs)
        with hold_run_folder(self.trainer.default_root_dir):
            self.trainer.fit(**kwargs)

    def validate(self, **kwargs) -> None:
        self.trainer.validate(**self.resolved("validate", kwargs))

    def test(self, **kwargs) -> None:
        self.trainer.test(**self.resolved("test", kwargs))

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.vocab_size", "model.init_args.model.init_args.vocab_size", apply_on="instantiate")


def first_process() -> bool:
    """Whether this is rank 0 of a run, read from the variables Lightning, torchrun and SLURM set
    (before ``fit`` starts, the trainer does not know its rank yet)."""
    import os

    return all(int(os.environ.get(name, "0")) == 0 for name in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"))


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
    import sys

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


def one_line(error: Exception, argv: list[str]) -> str:
    """jsonargparse's multi-line report of a bad config or flag, as one line: where it came
    from (the flag, else the config file), the full key, the class it belongs to, the reason."""
    message = str(error)
    keys, classes, reason = _error_path(message)
    if not keys:  # not about one key: e.g. unrecognized arguments
        lines = [line.strip() for line in message.splitlines() if line.strip()]
        return lines[0] if lines else type(error).__name__
    key = ""
    for i, name in enumerate(keys):
        key += ("." if key else "") + name + (".init_args" if i < len(classes) and i < len(keys) - 1 else "")
    where = key + (f" ({classes[-1]})" if classes else "")
    nested = re.search(r"NestedArg\(key='([^']+)'", message)  # the value came from a flag
    flags = [arg.split("=")[0] for arg in argv if arg.startswith(f"--{keys[0].split('.')[0]}.")]
    flag = next((f for f in flags if f == f"--{key}" or (nested and f.endswith(nested.group(1)))), None)
    if flag:
        return f"{flag}{f' ({classes[-1]})' if classes else ''}: {reason}"
    if keys[0] == "config":
        return f"--config: {reason}"
    configs = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg in ("--config", "-c")]
    return f"{configs[-1] + ': ' if configs else ''}{where}: {reason}"


def _error_path(message: str) -> tuple[list[str], list[str], str]:
    """(the nested keys, the class paths on the way, the innermost reason) of a jsonargparse
    error; only the first branch of a Union is followed (the others say "Expected None")."""
    keys: list[str] = []
    classes: list[str] = []
    reason = expected = ""
    for line in message.splitlines():
        text = line.strip().removeprefix("- ")
        if expected and text.startswith("Given value type: "):
            continue
        if expected and text.startswith("Given value: "):  # a Union's first type: the value's own kind
            reason = f"{expected}. Got value: {text.removeprefix('Given value: ')}"
            break
        if text.startswith(("Expected a <class 'NoneType'>", "Given value")):
            break
        if re.fullmatch(r"Expected a (typing\.Literal\[.*\]|<class '\w+'>)", text) and not expected:
            expected = text
        if match := re.match(r'Parser key "([^"]+)":\s*(.*)', text):
            keys.append(match.group(1))
            reason = match.group(2) or reason
        elif match := re.match(r"Problem with given class_path '([^']+)':\s*(.*)", text):
            classes.append(match.group(1))
        elif text and not text.startswith(("Does not validate against any", "Subtypes:", "Errors:")):
            reason = text
    return keys, classes, _plain(reason)


def _plain(reason: str) -> str:
    """jsonargparse's type errors in plain words, with a near class name when one is misspelled."""
    if match := re.match(r"Expected a (?:<class '(\w+)'>|typing\.Literal\[(.*)\])\. Got value: (.*)", reason):
        expected = match.group(1) or "one of " + match.group(2)
        return f"expected {expected}, got {match.group(3)!r}"
    if match := re.match(r"module '([\w.]+)' has no attribute '(\w+)'", reason):
        import difflib
        import importlib

        module, name = match.groups()
        try:
            near = difflib.get_close_matches(name, dir(importlib.import_module(module)), n=1)
        except ImportError:
            near = []
        return f"{module} has no class {name}" + (f" (did you mean {near[0]}?)" if near else "")
    return reason


def run(argv: list[str]) -> VisionAttentionCLI:
    """Run LightningCLI on ``argv``; a bad config or flag raises ValueError with one line."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
        try:
            return VisionAttentionCLI(
                subclass_mode_model=True,
                subclass_mode_data=True,
                args=argv,
                trainer_defaults={"callbacks": [SaveLastOnStop()]},
                save_config_kwargs={"overwrite": True},
                parser_kwargs={
                    "exit_on_error": False,
                    **{command: {"default_config_files": [DEFAULTS]} for command in ("fit", "validate", "test")},
                },
            )
        except argparse.ArgumentError as error:
            raise ValueError(one_line(error, argv)) from error
        except SIGTERMException as stop:  # Lightning's, which would exit with status 0
            raise SystemExit(128 + signal.SIGTERM) from stop
