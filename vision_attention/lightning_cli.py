"""LightningCLI for every experiment in ``train/``: models and data modules are chosen in
the YAML by ``class_path``; the vocabulary size of captioners is read from the data.
Checkpoints are written atomically (see :class:`AtomicCheckpointIO`)."""

from __future__ import annotations

import argparse
import re

from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO

from .checkpoints import atomic_save
from .lit.callbacks import SaveLastOnStop


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file and renames it into place: a run killed at
    any moment leaves checkpoints that either load or are absent, never half-written."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        from pathlib import Path

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_save(checkpoint, path)


class VisionAttentionCLI(LightningCLI):
    def _parse_ckpt_path(self) -> None:
        """Lightning would overwrite the config with the hyperparameters stored in the
        ``--ckpt_path`` checkpoint, silently undoing flags such as
        ``validate --model.init_args.beam_size 1``. Here the config and flags say how to
        run; the checkpoint gives the weights (a model of another shape fails to load)."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments(
            "data.vocab_size", "model.init_args.model.init_args.vocab_size", apply_on="instantiate"
        )


def one_line(error: Exception, argv: list[str]) -> str:
    """jsonargparse's multi-line report of a bad config or flag, as one line naming the
    config file, the key and the problem."""
    message = str(error)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    key = re.match(r'Parser key "([^"]+)":\s*(.*)', lines[0]) if lines else None
    specific = [line for line in lines if re.search(r"not accepted|does not exist|unrecognized|no such|invalid|required", line, re.I)]
    detail = specific[0] if specific else (key.group(2) if key and key.group(2) else lines[0] if lines else type(error).__name__)
    detail = re.sub(r'^Parser key "[^"]+":\s*', "", detail)
    where = key.group(1) if key else ""
    component = re.search(r"class_path '([^']+)'", message)
    if component:
        where += f" ({component.group(1)})"
    configs = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg in ("--config", "-c")]
    prefix = f"{configs[-1]}: " if configs else ""
    return f"{prefix}{where + ': ' if where else ''}{detail}"


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
                trainer_defaults={"plugins": [AtomicCheckpointIO()], "callbacks": [SaveLastOnStop()]},
                save_config_kwargs={"overwrite": True},
                parser_kwargs={"exit_on_error": False},
            )
        except argparse.ArgumentError as error:
            raise ValueError(one_line(error, argv)) from error
