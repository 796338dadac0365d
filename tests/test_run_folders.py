"""Run folders and checkpoints under stress: two fits on one folder, a read-only folder, a
disk that fills while a checkpoint is written. Nothing half-written is ever read back."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from vision_attention.cli import main
from vision_attention.files.checkpoints import atomic_save, read_checkpoint

from .helpers import remount_read_only, small_filesystem

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
    "--trainer.num_sanity_val_steps",
    "0",
    "--trainer.logger",
    "false",
]


def test_a_second_fit_on_a_run_folder_in_use_is_refused_in_one_line(tmp_path, capsys):
    long_fit = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vision_attention.cli",
            "fit",
            "--config",
            CONFIG,
            *SMALL,
            "--trainer.max_steps",
            "100000",
            "--trainer.default_root_dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        lock = tmp_path / ".fit.lock"
        while not (lock.is_file() and lock.read_text().startswith("pid")):
            assert long_fit.poll() is None and time.monotonic() < deadline, long_fit.communicate()[1][-2000:]
            time.sleep(0.2)
        assert (
            main(
                [
                    "fit",
                    "--config",
                    CONFIG,
                    *SMALL,
                    "--trainer.max_steps",
                    "1",
                    "--trainer.default_root_dir",
                    str(tmp_path),
                ]
            )
            == 2
        )
        err = capsys.readouterr().err.strip().splitlines()  # Lightning's INFO lines, then ours
        assert err[-1] == (
            f"vision-attention: error: {tmp_path}: another fit is running in this run folder "
            f"(pid {long_fit.pid}); wait for it to end, or give another --trainer.default_root_dir"
        )
        assert not any("Traceback" in line for line in err)
    finally:
        long_fit.kill()
        long_fit.wait()
    # The kernel dropped the killed run's lock: the folder is free again.
    assert (
        main(
            ["fit", "--config", CONFIG, *SMALL, "--trainer.max_steps", "1", "--trainer.default_root_dir", str(tmp_path)]
        )
        == 0
    )


def test_a_read_only_run_folder_is_one_line(tmp_path, capsys):
    with small_filesystem(tmp_path / "runs", "1m") as runs:
        remount_read_only(runs)
        assert (
            main(
                ["fit", "--config", CONFIG, *SMALL, "--trainer.max_steps", "1", "--trainer.default_root_dir", str(runs)]
            )
            == 2
        )
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1] == f"vision-attention: error: {runs}: cannot write in the run folder (Read-only file system)"
        assert not any("Traceback" in line for line in err)


def test_a_checkpoint_written_onto_a_full_disk_leaves_the_previous_one_whole(tmp_path):
    with small_filesystem(tmp_path / "disk", "512k") as disk:
        atomic_save({"state_dict": {"w": torch.ones(10)}}, disk / "last.ckpt")
        with pytest.raises((OSError, RuntimeError)):
            atomic_save({"state_dict": {"w": torch.zeros(400_000)}}, disk / "last.ckpt")  # 1.6 MB: does not fit
        assert sorted(p.name for p in disk.iterdir()) == ["last.ckpt"]  # no temporary left
        assert torch.equal(read_checkpoint(disk / "last.ckpt")["state_dict"]["w"], torch.ones(10))
