"""`--ckpt_path last | best | FILE` for fit, validate and test: found across run versions,
refused with one line when there is nothing to score or the file is not a checkpoint."""

import os
from pathlib import Path

import pytest
import torch

from vision_attention.cli import main
from vision_attention.cli.lightning import run
from vision_attention.files.checkpoints import CheckpointError

CONFIG = str(Path(__file__).resolve().parents[1] / "train" / "sat_soft_shapes.yaml")
SMALL = [
    "--data.init_args.train_size",
    "64",
    "--data.init_args.val_size",
    "8",
    "--data.init_args.test_size",
    "8",
    "--data.init_args.batch_size",
    "8",
    "--model.init_args.model.init_args.hidden_dim",
    "32",
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
    "--trainer.max_time",
    "null",
    "--trainer.limit_val_batches",
    "1",
    "--trainer.limit_test_batches",
    "1",
    "--trainer.num_sanity_val_steps",
    "0",
]


def command(subcommand: str, root: Path, *extra: str) -> list[str]:
    return [subcommand, "--config", CONFIG, *SMALL, "--trainer.default_root_dir", str(root), *extra]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A run of 4 steps validated every 2: best-step=*.ckpt and last.ckpt in version_0."""
    root = tmp_path_factory.mktemp("run")
    run(command("fit", root, "--trainer.max_steps", "4", "--trainer.val_check_interval", "2"))
    return root


def test_last_and_best_are_found_by_a_new_cli_and_score_the_trained_weights(trained):
    last = trained / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    state = torch.load(last, map_location="cpu", weights_only=True)
    best = next(s["best_model_path"] for k, s in state["callbacks"].items() if k.startswith("ModelCheckpoint"))
    assert Path(best).is_file() and Path(best).name.startswith("best-step=")
    for which, expected in (("last", last), ("best", Path(best))):
        cli = run(command("test", trained, "--ckpt_path", which))
        assert Path(cli.trainer.ckpt_path) == expected
        assert "test/bleu4" in cli.trainer.callback_metrics


def test_fit_resumes_from_the_newest_last_checkpoint_of_an_earlier_version(trained, tmp_path):
    cli = run(
        command("fit", trained, "--trainer.max_steps", "6", "--trainer.val_check_interval", "2", "--ckpt_path", "last")
    )
    assert cli.trainer.global_step == 6 and "version_0" in cli.trainer.ckpt_path


def test_nothing_to_resume_is_said_and_nothing_to_score_is_refused(tmp_path, capsys):
    cli = run(command("fit", tmp_path, "--trainer.max_steps", "1", "--ckpt_path", "last"))
    assert cli.trainer.global_step == 1
    assert "no last checkpoint under" in capsys.readouterr().err
    empty = tmp_path / "empty"
    for argv in (command("test", empty, "--ckpt_path", "best"), command("test", empty), command("validate", empty)):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--ckpt_path" in err[0], err


def evil_checkpoint(path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"state_dict": {}, "x": Evil()}, path)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(os.urandom(4096)), "not a checkpoint"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (evil_checkpoint, "refused to load: it would call"),
    ],
)
@pytest.mark.parametrize("subcommand", ["fit", "test"])
def test_a_bad_checkpoint_file_is_one_line_before_any_work(make, reason, subcommand, tmp_path, capsys):
    path = tmp_path / "bad.ckpt"
    make(path)
    assert main(command(subcommand, tmp_path, "--ckpt_path", str(path))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"vision-attention: error: {path}: {reason}"), err
    assert not (tmp_path / "lightning_logs").exists()  # nothing started


def test_a_truncated_checkpoint_is_named_damaged(trained, tmp_path):
    data = (trained / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt").read_bytes()
    path = tmp_path / "cut.ckpt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged checkpoint"):
        run(command("test", tmp_path, "--ckpt_path", str(path)))


@pytest.mark.parametrize("subcommand", ["fit", "test"])
def test_a_checkpoint_of_another_model_shape_is_one_line_naming_the_setting_and_makes_no_run(
    trained, subcommand, capsys
):
    folders = sorted((trained / "lightning_logs").iterdir())
    argv = command(subcommand, trained, "--ckpt_path", "last", "--model.init_args.model.init_args.hidden_dim", "48")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(
        "last.ckpt: its model differs from this config's: hidden_dim is 32 there, 48 here"
    ), err
    assert sorted((trained / "lightning_logs").iterdir()) == folders  # no new version folder
