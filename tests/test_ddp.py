"""Training goes through Lightning strategies: two CPU processes with DDP end with the
same parameters, and the checkpoint they write captions on its own. (Batch-norm running
statistics stay per rank on CPU; on GPUs `--trainer.sync_batchnorm true` shares them.)"""

import os
import subprocess
import sys
from pathlib import Path

import torch

from vision_attention.inference import Captioner

ROOT = Path(__file__).resolve().parents[1]


def test_ddp_on_two_cpu_processes(tmp_path):
    out = tmp_path / "ranks"
    command = [
        sys.executable,
        "-m",
        "vision_attention.cli",
        "fit",
        "--config",
        str(ROOT / "train" / "sat_soft_shapes.yaml"),
        "--trainer.strategy",
        "ddp",
        "--trainer.accelerator",
        "cpu",
        "--trainer.devices",
        "2",
        "--trainer.max_steps",
        "3",
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
        str(tmp_path / "run"),
        "--trainer.callbacks+",
        "tests.ddp_helpers.SaveRankParameters",
        "--trainer.callbacks.folder",
        str(out),
        "--data.init_args.train_size",
        "64",
        "--data.init_args.batch_size",
        "8",
        "--model.init_args.model.init_args.hidden_dim",
        "32",
    ]
    # Prepend, not replace: an environment that finds its packages through PYTHONPATH keeps them.
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = torch.load(out / "rank0.pt"), torch.load(out / "rank1.pt")
    assert rank0.keys() == rank1.keys()
    parameters = [name for name in rank0 if name in rank0["__parameters__"]]
    assert len(parameters) > 20
    for name in parameters:
        assert torch.equal(rank0[name], rank1[name]), f"{name} differs between the ranks"
    checkpoint = next((tmp_path / "run").rglob("last.ckpt"))
    captioner = Captioner.from_checkpoint(checkpoint)
    weights = {k[len("model.") :]: v for k, v in rank0.items() if k.startswith("model.")}  # rank 0 wrote it
    for name, tensor in captioner.model.state_dict().items():
        assert torch.equal(tensor, weights[name]), name
