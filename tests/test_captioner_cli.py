"""Captioning from a checkpoint alone, from Python and from the command line."""

import subprocess
import sys

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from vision_attention.backbones import Backbone
from vision_attention.captioner import Captioner
from vision_attention.checkpoints import CheckpointError
from vision_attention.cli import main
from vision_attention.data import ShapesCaptionsDataModule
from vision_attention.lit import CaptioningModule
from vision_attention.models import ShowAttendTell


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    L.seed_everything(0)
    data = ShapesCaptionsDataModule(train_size=64, val_size=8, test_size=8, batch_size=16, image_size=32)
    data.setup()
    model = ShowAttendTell(len(data.vocab), Backbone("tiny", grid=None, width=8), embed_dim=8, hidden_dim=16, attn_dim=8)
    trainer = L.Trainer(max_steps=3, logger=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, default_root_dir=folder)
    trainer.fit(CaptioningModule(model), datamodule=data)
    path = folder / "model.ckpt"
    trainer.save_checkpoint(path)
    image = data.splits["test"][0]["image"]
    Image.fromarray((image.permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(folder / "shape.png")
    return path, model.eval(), folder / "shape.png"


def test_captioner_needs_only_the_checkpoint(checkpoint):
    path, model, image_path = checkpoint
    captioner = Captioner.from_checkpoint(path, map_location="cpu")
    for name, tensor in model.state_dict().items():
        assert torch.equal(captioner.model.state_dict()[name], tensor), name
    assert captioner.image_size == 32
    from_path, from_pil = captioner.caption([image_path, Image.open(image_path)], beam_size=2, max_len=6)
    from_tensor = captioner.caption(captioner.to_tensor(image_path), beam_size=2, max_len=6)[0]
    assert from_path.text == from_pil.text == from_tensor.text
    assert from_path.text == " ".join(from_path.tokens)
    steps = len(from_path.tokens) + (1 if len(from_path.tokens) < 6 else 0)
    assert from_path.alphas.shape == (steps, 4, 4)
    torch.testing.assert_close(from_path.alphas.sum((1, 2)), torch.ones(steps))
    assert isinstance(from_path.score, float) and from_path.score < 0


def test_a_crafted_pickle_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "vision_attention": {"kind": "captioner"}, "x": Payload()}, evil)
    with pytest.raises(CheckpointError, match="refused to load: it would call print") as refused:
        Captioner.from_checkpoint(evil)
    assert "weights_only" not in str(refused.value)  # never torch's advice to load it unsafely


def test_cli_captions_images_reports_bad_ones_and_writes_attention(checkpoint, tmp_path, capsys):
    path, _, image_path = checkpoint
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    status = main(["caption", "--checkpoint", str(path), "--beam-size", "2", "--max-len", "6",
                   "--attention-dir", str(tmp_path / "att"), str(image_path), str(tmp_path / "broken.jpg")])
    out, err = capsys.readouterr()
    assert status == 1
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{image_path}\t")
    assert "broken.jpg" in err and err.count("\n") == 1
    figure = Image.open(tmp_path / "att" / "shape.png")
    assert figure.width > 160 and figure.height >= 160


def test_cli_user_mistakes_end_in_one_line(tmp_path):
    missing = subprocess.run([sys.executable, "-m", "vision_attention.cli", "caption", "--checkpoint",
                              str(tmp_path / "nope.ckpt"), "x.png"], capture_output=True, text=True)
    assert missing.returncode == 2 and "nope.ckpt" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and "Traceback" not in missing.stderr
