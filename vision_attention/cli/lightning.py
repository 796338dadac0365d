"""``fit``, ``validate`` and ``test``: LightningCLI for every recipe (``train/``, the package's
``recipes/``): models and data modules are chosen in the YAML by ``class_path``; the vocabulary
size of captioners is read from the data. Checkpoints are written atomically
(:class:`AtomicCheckpointIO`), a run folder holds one fit at a time, ``--ckpt_path`` is resolved
and checked before any work (:mod:`~vision_attention.cli.run_folders`), and a bad config or flag
is one line (:mod:`~vision_attention.cli.config_errors`)."""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities.exceptions import SIGTERMException

from ..files.checkpoints import atomic_save
from ..lit.callbacks import SaveLastOnStop
from .config_errors import one_line
from .run_folders import hold_run_folder, resolve_ckpt_path

COMMANDS = ("fit", "validate", "test")
SHARED_CONFIG = str(Path(__file__).resolve().parents[1] / "train_defaults.yaml")  # what every recipe shares


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file and renames it into place: a run killed at
    any moment leaves checkpoints that either load or are absent, never half-written."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
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
    return all(int(os.environ.get(name, "0")) == 0 for name in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"))


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
                    **{command: {"default_config_files": [SHARED_CONFIG]} for command in ("fit", "validate", "test")},
                },
            )
        except argparse.ArgumentError as error:
            raise ValueError(one_line(error, argv)) from error
        except SIGTERMException as stop:  # Lightning's, which would exit with status 0
            raise SystemExit(128 + signal.SIGTERM) from stop


def run_command(args: argparse.Namespace) -> int:
    """``fit``, ``validate`` or ``test`` as the command line asked (``args.lightning_argv``)."""
    run(args.lightning_argv)
    return 0
