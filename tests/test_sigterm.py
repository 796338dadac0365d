"""`make test` can be cancelled: a SIGTERM stops the suite within seconds, even in the middle
of a Lightning fit, with a non-zero status."""

import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = """
import time
from pathlib import Path

import lightning as L
import torch


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        Path("MARKER").write_text("training")
        time.sleep(0.01)
        return self.layer(batch).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def test_a_long_fit():
    data = torch.utils.data.DataLoader(torch.randn(64, 2), batch_size=8)
    L.Trainer(max_steps=100_000, logger=False, enable_checkpointing=False, enable_progress_bar=False).fit(Tiny(), data)


def test_then_a_slow_one():
    time.sleep(120)
"""


def test_sigterm_stops_the_suite_within_seconds_even_during_a_fit(tmp_path):
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            "-c",
            str(tmp_path / "pytest.ini"),
            str(tmp_path / "test_suite.py"),
        ],
        cwd=tmp_path,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "MARKER").exists():  # the fit is running
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0][-2000:]
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("the suite was still running 30 s after SIGTERM") from None
    assert time.monotonic() - sent < 30
    assert process.returncode == 128 + signal.SIGTERM, output[-2000:]
    assert "SIGTERM: the test run stops here" in output
