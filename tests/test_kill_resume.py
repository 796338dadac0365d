"""A run killed with SIGKILL leaves checkpoints that load and resume, never half-written ones."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


SMALL = {  # each experiment shrunk to steps of a few ms
    "sat_soft_shapes": [
        "--data.init_args.train_size",
        "4096",
        "--data.init_args.batch_size",
        "8",
        "--model.init_args.model.init_args.hidden_dim",
        "32",
    ],
    "draw_shapes": [
        "--data.init_args.train_size",
        "512",
        "--data.init_args.batch_size",
        "8",
        "--model.init_args.model.init_args.steps",
        "4",
        "--model.init_args.model.init_args.enc_dim",
        "32",
        "--model.init_args.model.init_args.dec_dim",
        "32",
    ],
}


def fit_command(config: str, root: Path, steps: int, resume: bool = False) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "vision_attention.cli",
        "fit",
        "--config",
        str(ROOT / "train" / f"{config}.yaml"),
        "--trainer.max_steps",
        str(steps),
        "--trainer.max_time",
        "null",
        "--trainer.val_check_interval",
        "null",
        "--trainer.check_val_every_n_epoch",
        "1",
        "--trainer.limit_val_batches",
        "0",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.default_root_dir",
        str(root),
        "--trainer.callbacks+",
        "lightning.pytorch.callbacks.ModelCheckpoint",
        "--trainer.callbacks.dirpath",
        str(root / "every_step"),
        "--trainer.callbacks.every_n_train_steps",
        "1",
        "--trainer.callbacks.save_last",
        "true",
        "--trainer.callbacks.save_top_k",
        "-1",
        *SMALL[config],
    ]
    return command + (["--ckpt_path", "last"] if resume else [])


@pytest.mark.parametrize("config", SMALL)
def test_sigkill_at_any_moment_leaves_loadable_checkpoints_and_resume_continues(config, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    folder = tmp_path / "every_step"
    process = subprocess.Popen(
        fit_command(config, tmp_path, 10_000), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 300
    while time.time() < deadline and len(list(folder.glob("*.ckpt"))) < 6:
        time.sleep(0.05)
    time.sleep(0.137)  # then kill mid-run, most likely while a checkpoint is being written
    process.send_signal(signal.SIGKILL)
    process.wait()
    checkpoints = sorted(folder.glob("*.ckpt"))
    assert len(checkpoints) >= 6, "the run wrote too few checkpoints before the kill"
    steps = []
    for path in checkpoints:  # every file that carries a checkpoint's name loads completely
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        assert "state_dict" in checkpoint and "vision_attention" in checkpoint
        steps.append(checkpoint["global_step"])
    last = torch.load(folder / "last.ckpt", map_location="cpu", weights_only=True)["global_step"]
    # ModelCheckpoint writes the step's own file, then last.ckpt: a kill in between leaves
    # last.ckpt one step behind, never more.
    assert max(steps) - 1 <= last <= max(steps)
    resumed = subprocess.run(
        fit_command(config, tmp_path, last + 3, resume=True),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = torch.load(folder / "last.ckpt", map_location="cpu", weights_only=True)
    assert after["global_step"] == last + 3


def test_a_run_stopped_between_validations_leaves_last_ckpt_at_its_final_step(tmp_path):
    # Validation (and ModelCheckpoint's save) every 2 steps; the run stops at step 5, then
    # resumes to 8. Lightning alone would leave last.ckpt at step 4 and redo step 5.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "vision_attention.cli",
        "fit",
        "--config",
        str(ROOT / "train" / "draw_shapes.yaml"),
        "--trainer.val_check_interval",
        "2",
        "--trainer.limit_val_batches",
        "1",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.logger",
        "false",
        "--trainer.num_sanity_val_steps",
        "0",
        "--trainer.default_root_dir",
        str(tmp_path),
        "--trainer.callbacks.dirpath",
        str(tmp_path / "checkpoints"),
        *SMALL["draw_shapes"],
    ]
    for steps, extra in ((5, []), (8, ["--ckpt_path", "last"])):
        run = subprocess.run(
            [*command, "--trainer.max_steps", str(steps), *extra],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        assert (
            torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["global_step"]
            == steps
        )


def test_sigterm_saves_a_checkpoint_that_resumes_and_the_run_exits_non_zero(tmp_path):
    # As `timeout`, SLURM and `docker stop` send it. The config's ModelCheckpoint keeps its
    # files in the run's own version folder; the resume starts a new version and must find
    # them there (`--ckpt_path last` searches the whole default_root_dir).
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "vision_attention.cli",
        "fit",
        "--config",
        str(ROOT / "train" / "sat_soft_shapes.yaml"),
        "--trainer.max_time",
        "null",
        "--trainer.limit_val_batches",
        "0",
        "--trainer.num_sanity_val_steps",
        "0",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.default_root_dir",
        str(tmp_path),
        *SMALL["sat_soft_shapes"],
    ]
    process = subprocess.Popen(
        [*command, "--trainer.max_steps", "100000"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    for line in process.stdout:  # the model summary is printed as training starts
        if "Trainable params" in line:
            break
    time.sleep(2.0)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 128 + signal.SIGTERM, output[-2000:]
    saved = list(tmp_path.rglob("last.ckpt"))
    assert len(saved) == 1 and "SIGTERM: saved" in output
    step = torch.load(saved[0], map_location="cpu", weights_only=True)["global_step"]
    assert step > 0
    resumed = subprocess.run(
        [*command, "--trainer.max_steps", str(step + 3), "--ckpt_path", "last"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    newest = max(tmp_path.rglob("last.ckpt"), key=lambda p: p.stat().st_mtime)
    assert newest != saved[0]  # the resumed run is a new version ...
    assert torch.load(newest, map_location="cpu", weights_only=True)["global_step"] == step + 3  # ... that went on
