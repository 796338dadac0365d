"""DRAW end to end: a checkpoint alone samples, reconstructs and animates."""

import lightning as L
import pytest
import torch
from PIL import Image

from vision_attention import Drawer
from vision_attention.cli import main
from vision_attention.data import collate_images
from vision_attention.data.digits import ImageArray
from vision_attention.files.checkpoints import CheckpointError
from vision_attention.lit import DrawModule
from vision_attention.models import DRAW

from .helpers import cli_with_4_gib_free


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("draw")
    L.seed_everything(0)
    images = torch.bernoulli(torch.full((32, 1, 12, 12), 0.2))
    loader = torch.utils.data.DataLoader(ImageArray(images), batch_size=16, collate_fn=collate_images)
    model = DRAW((1, 12, 12), steps=5, read_n=2, write_n=3, enc_dim=16, dec_dim=16, z_dim=4)
    trainer = L.Trainer(
        max_steps=2, logger=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=folder
    )
    trainer.fit(DrawModule(model), train_dataloaders=loader)
    trainer.save_checkpoint(folder / "draw.ckpt")
    return folder / "draw.ckpt", model


def test_drawer_samples_and_reconstructs_with_windows(checkpoint):
    path, _model = checkpoint
    drawer = Drawer.from_checkpoint(path)
    sample = drawer.sample(6, seed=3)
    assert sample.canvases.shape == (5, 6, 1, 12, 12)
    assert ((sample.canvases >= 0) & (sample.canvases <= 1)).all()
    assert torch.equal(sample.canvases, drawer.sample(6, seed=3).canvases)
    assert sample.windows.centre_x.shape == (5, 6) and sample.windows.n == 3
    images = torch.rand(2, 1, 12, 12)
    again = drawer.reconstruct(images, seed=1)
    assert again.canvases.shape == (5, 2, 1, 12, 12) and again.windows.n == 2  # read windows: 2 x 2
    drawn = drawer.reconstruct(images, seed=1, windows="write")
    assert drawn.windows.n == 3 and torch.equal(drawn.canvases, again.canvases)  # same drawing, its 3 x 3 writes
    assert not torch.equal(drawn.windows.centre_x, again.windows.centre_x)


def test_cli_writes_a_gif_with_a_frame_per_step_and_a_strip(checkpoint, tmp_path, capsys):
    path, _ = checkpoint
    assert (
        main(
            [
                "draw",
                "--checkpoint",
                str(path),
                "--num",
                "4",
                "--out",
                str(tmp_path / "d.gif"),
                "--strip",
                str(tmp_path / "s.png"),
                "--seed",
                "1",
            ]
        )
        == 0
    )
    gif = Image.open(tmp_path / "d.gif")
    assert gif.n_frames == 5 + 1  # one per step, plus the blank first frame
    gif.seek(3)
    gif.convert("RGB")
    assert Image.open(tmp_path / "s.png").width > Image.open(tmp_path / "s.png").height
    before = (tmp_path / "d.gif").read_bytes()
    capsys.readouterr()
    assert main(["draw", "--checkpoint", str(path), "--num", "4", "--out", str(tmp_path / "d.gif"), "--seed", "2"]) == 2
    assert (tmp_path / "d.gif").read_bytes() == before and "exists: pass --overwrite" in capsys.readouterr().err
    assert (
        main(
            [
                "draw",
                "--checkpoint",
                str(path),
                "--num",
                "4",
                "--out",
                str(tmp_path / "d.gif"),
                "--seed",
                "2",
                "--overwrite",
            ]
        )
        == 0
    )
    assert (tmp_path / "d.gif").read_bytes() != before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # written atomically, nothing left


def test_a_captioner_checkpoint_is_not_a_drawer(tmp_path):
    torch.save({"vision_attention": {"kind": "captioner"}, "state_dict": {}}, tmp_path / "c.ckpt")
    with pytest.raises(CheckpointError, match="not a DRAW model"):
        Drawer.from_checkpoint(tmp_path / "c.ckpt")
    assert main(["draw", "--checkpoint", str(tmp_path / "c.ckpt")]) == 2


def test_a_compiled_draw_module_trains_and_its_checkpoint_draws(tmp_path):
    L.seed_everything(0)
    loader = torch.utils.data.DataLoader(
        ImageArray(torch.bernoulli(torch.full((16, 1, 12, 12), 0.2))), batch_size=8, collate_fn=collate_images
    )
    model = DRAW((1, 12, 12), steps=3, read_n=2, write_n=3, enc_dim=8, dec_dim=8, z_dim=2)
    module = DrawModule(model, compile_steps=True)
    assert "compiled_step" in vars(module.model)  # the fused engine steps through the compiled step
    trainer = L.Trainer(
        max_steps=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, train_dataloaders=loader)
    assert trainer.global_step == 2 and torch.isfinite(trainer.callback_metrics["train/loss"])
    trainer.save_checkpoint(tmp_path / "draw.ckpt")
    assert Drawer.from_checkpoint(tmp_path / "draw.ckpt").sample(2, seed=0).canvases.shape == (3, 2, 1, 12, 12)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--num", "0"], "--num must be an integer >= 1, got 0"),
        (["--frame-ms", "-5"], "--frame-ms must be an integer in [10, 655350], got -5"),
        (["--out", "x.jpg"], "--out must name a .gif file (the animation), got 'x.jpg'"),
        (["--out", "drawing"], "--out must name a .gif file (the animation), got 'drawing'"),
        (["--strip", "s.gif"], "--strip must name a .png file, got 's.gif'"),
    ],
)
def test_bad_draw_arguments_are_one_line(checkpoint, flags, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path, _ = checkpoint
    assert main(["draw", "--checkpoint", str(path), *flags]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"vision-attention: error: {message}"]
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_count_too_large_for_memory_is_refused_before_drawing(checkpoint, tmp_path):
    path, _ = checkpoint
    status, peak_kib, stderr = cli_with_4_gib_free(
        ["draw", "--checkpoint", str(path), "--num", "10000000", "--out", str(tmp_path / "d.gif")]
    )
    assert status == 2 and peak_kib < 2 * 2**20, stderr
    assert stderr.strip().startswith("vision-attention: error: --num 10000000 with its GIF needs about")
    assert not (tmp_path / "d.gif").exists()


def test_a_window_past_the_canvas_is_outlined_on_its_own_tile_only(tmp_path):
    import numpy as np

    from vision_attention.inference.drawer import Drawing, Windows
    from vision_attention.viz import drawing_strip

    # Two 10 x 10 images, one step: image 0's window (centre 5.5, half-span 7 pixels) reaches past
    # every side of its canvas, down into image 1's tile; image 1's is a small one in the middle.
    windows = Windows(
        centre_x=torch.tensor([[5.5, 5.5]]),
        centre_y=torch.tensor([[5.5, 5.5]]),
        stride=torch.tensor([[7.0, 1.0]]),
        sigma=torch.ones(1, 2),
        n=3,
    )
    drawing = Drawing(torch.zeros(1, 2, 1, 10, 10), windows)
    strip = np.asarray(Image.open(drawing_strip(drawing, tmp_path / "s.png", steps=[0], scale=3)).convert("RGB"))
    red = np.nonzero(((strip[..., 0] > 200) & (strip[..., 1] < 100)).any(1))[0]
    # Tiles are 32 pixels tall (10 x 3 and a border pixel each side): image 1's starts at row 33,
    # and its window (1-indexed centre 5.5 +- 1) is outlined from row 33 + 3 * 4 to 33 + 3 * 6.
    assert red.size and red.min() == 33 + 3 * 4 and red.max() == 33 + 3 * 6
