import os
import signal
import threading
from pathlib import Path

import pytest

_CONFIG = []


def _stop_on_sigterm(signum, frame):
    capture = _CONFIG[0].pluginmanager.getplugin("capturemanager") if _CONFIG else None
    if capture is not None:
        capture.suspend_global_capture(in_=False)  # say it on the real stderr, not into a capture
    os.write(2, b"\nSIGTERM: the test run stops here\n")
    os._exit(128 + signum)


def pytest_configure(config):
    """A SIGTERM (a CI runner cancelling the job, `timeout`) stops the run at once. Without
    this, Lightning's handler, installed by every fit in this process, turned the signal
    into an error of the test then running and the suite went on; Lightning's handler calls
    the one it finds installed, so this one runs inside fits too."""
    if threading.current_thread() is threading.main_thread():
        _CONFIG[:] = [config]
        signal.signal(signal.SIGTERM, _stop_on_sigterm)


@pytest.fixture
def data_dir():
    """The real data folder from $VISION_ATTENTION_DATA; skips the test when it is unset."""
    root = os.environ.get("VISION_ATTENTION_DATA")
    if not root:
        pytest.skip("VISION_ATTENTION_DATA is not set: real-data test skipped")
    path = Path(root)
    if not path.is_dir():
        pytest.skip(f"VISION_ATTENTION_DATA={root} is not a folder")
    return path


@pytest.fixture(scope="session")
def tiny_captioner(tmp_path_factory):
    """(checkpoint, three ShapesCaptions photos as PNG files) of a tiny captioner after a few steps."""
    import lightning as L
    import numpy as np
    from PIL import Image

    from vision_attention.data import ShapesCaptionsDataModule
    from vision_attention.lit import CaptioningModule
    from vision_attention.models import ShowAttendTell
    from vision_attention.models.backbones import Backbone

    folder = tmp_path_factory.mktemp("tiny_captioner")
    L.seed_everything(0)
    data = ShapesCaptionsDataModule(train_size=64, val_size=8, test_size=8, batch_size=16, image_size=32)
    data.setup()
    model = ShowAttendTell(
        len(data.vocab), Backbone("tiny", grid=None, width=8), embed_dim=8, hidden_dim=16, attn_dim=8
    )
    trainer = L.Trainer(
        max_steps=3,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        default_root_dir=folder,
    )
    trainer.fit(CaptioningModule(model), datamodule=data)
    trainer.save_checkpoint(folder / "model.ckpt")
    photos = []
    for i in range(3):
        image = data.splits["test"][i]["image"]
        photos.append(folder / f"shape{i}.png")
        Image.fromarray((image.permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(photos[-1])
    return folder / "model.ckpt", photos
