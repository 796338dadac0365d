"""LightningCLI for every experiment in ``train/``: models and data modules are chosen in
the YAML by ``class_path``; the vocabulary size of captioners is read from the data.
Checkpoints are written atomically (see :class:`AtomicCheckpointIO`)."""

from __future__ import annotations

from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO

from .checkpoints import atomic_save


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file and renames it into place: a run killed at
    any moment leaves checkpoints that either load or are absent, never half-written."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        from pathlib import Path

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_save(checkpoint, path)


class VisionAttentionCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments(
            "data.vocab_size", "model.init_args.model.init_args.vocab_size", apply_on="instantiate"
        )


def run(argv: list[str]) -> VisionAttentionCLI:
    return VisionAttentionCLI(
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=argv,
        trainer_defaults={"plugins": [AtomicCheckpointIO()]},
        save_config_kwargs={"overwrite": True},
    )
