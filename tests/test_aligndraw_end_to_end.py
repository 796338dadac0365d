"""alignDRAW end to end: a checkpoint alone draws from text, the GIF shows the words, a
judge trained on real images scores the drawings, and mistakes end in one line."""

import lightning as L
import pytest
import torch
from PIL import Image

from vision_attention import Drawer
from vision_attention.cli import main
from vision_attention.data import ShapesCaptionsDataModule
from vision_attention.data.attributes import IGNORE, SCHEMAS, judged_correct, shapes_attributes
from vision_attention.data.shapes import Scene, ShapeObject
from vision_attention.inference import Judge, judge_drawer
from vision_attention.lit import AlignDrawModule, JudgeModule
from vision_attention.models import AlignDRAW, SceneJudge


def fit(module, folder, name):
    data = ShapesCaptionsDataModule(train_size=32, val_size=8, test_size=8, image_size=16, max_objects=2, batch_size=16)
    trainer = L.Trainer(
        max_steps=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=folder,
        limit_val_batches=0,
    )
    trainer.fit(module, datamodule=data)
    trainer.save_checkpoint(folder / name)
    return folder / name


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("aligndraw")
    L.seed_everything(0)
    vocab_size = ShapesCaptionsDataModule().vocab_size
    drawer = AlignDRAW(
        vocab_size,
        (3, 16, 16),
        steps=4,
        read_n=2,
        write_n=3,
        enc_dim=16,
        dec_dim=16,
        z_dim=4,
        embed_dim=8,
        lang_dim=8,
        align_dim=8,
    )
    judge = SceneJudge("shapes", (3, 16, 16), width=8)
    return fit(AlignDrawModule(drawer), folder, "aligndraw.ckpt"), fit(JudgeModule(judge), folder, "judge.ckpt")


def test_a_checkpoint_alone_draws_from_a_caption_with_the_word_attention(checkpoints):
    drawer = Drawer.from_checkpoint(checkpoints[0])
    drawing = drawer.sample(3, seed=1, caption="a small red circle")
    assert drawing.canvases.shape == (4, 3, 3, 16, 16)
    assert drawing.words == ["<start>", "a", "small", "red", "circle", "<end>"]
    assert drawing.word_weights.shape == (4, 3, 6)
    torch.testing.assert_close(drawing.word_weights.sum(-1), torch.ones(4, 3))
    assert torch.equal(drawing.canvases, drawer.sample(3, seed=1, caption="a small red circle").canvases)
    assert not torch.equal(drawing.canvases, drawer.sample(3, seed=1, caption="a large blue square").canvases)
    with pytest.raises(ValueError, match="'dog'"):
        drawer.sample(1, caption="a small red dog")
    with pytest.raises(ValueError, match="draws from a caption"):
        drawer.sample(1)
    again = drawer.reconstruct(torch.rand(2, 3, 16, 16), seed=0, caption=["a small red circle", "a large blue square"])
    assert again.canvases.shape == (4, 2, 3, 16, 16) and again.windows.n == 2 and again.words is None


def test_cli_draws_a_gif_with_the_caption_under_every_frame(checkpoints, tmp_path, capsys):
    out = tmp_path / "gen.gif"
    assert (
        main(
            [
                "draw",
                "--checkpoint",
                str(checkpoints[0]),
                "--caption",
                "a large blue square",
                "--num",
                "4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    gif = Image.open(out)
    assert gif.n_frames == 4 + 1
    assert gif.height > gif.width  # the caption band below the 2 x 2 grid
    assert (
        main(
            [
                "draw",
                "--checkpoint",
                str(checkpoints[0]),
                "--caption",
                "a purple unicorn",
                "--out",
                str(tmp_path / "unicorn.gif"),
            ]
        )
        == 2
    )
    assert (
        capsys.readouterr().err.strip()
        == "vision-attention: error: caption words not in the model's vocabulary: 'unicorn'"
    )


def test_the_judge_scores_drawings_and_its_own_reading_of_real_images(checkpoints, capsys):
    drawer, judge = Drawer.from_checkpoint(checkpoints[0]), Judge.from_checkpoint(checkpoints[1])
    report = judge_drawer(drawer, judge, "test", count=6, batch_size=4)
    assert report.scenes == 6 and 0 <= report.real_accuracy <= 1 and 0 <= report.generated_accuracy <= 1
    assert set(report.attributes) == set(SCHEMAS["shapes"])
    assert main(["judge", "--drawer", str(checkpoints[0]), "--judge", str(checkpoints[1]), "--num", "4"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["test", "compositional"]
    assert (
        main(["judge", "--drawer", str(checkpoints[1]), "--judge", str(checkpoints[1])]) == 2
    )  # a judge is not a drawer


def test_attributes_of_a_scene_and_what_counts_as_judged_right():
    a = ShapeObject("circle", "red", "small", (2, 10, 8, 16))
    b = ShapeObject("square", "blue", "large", (20, 8, 30, 18))
    attributes = shapes_attributes(Scene((a, b), 32))
    assert attributes == {
        "count": 1,
        "relation": 0,
        "shape_0": 0,
        "colour_0": 0,
        "size_0": 0,
        "shape_1": 1,
        "colour_1": 2,
        "size_1": 1,
    }  # "a small red circle left of a large blue square"
    alone = shapes_attributes(Scene((a,), 32))
    assert alone["relation"] == alone["shape_1"] == IGNORE
    targets = {"count": torch.tensor([0, 0]), "shape_1": torch.tensor([IGNORE, 2])}
    logits = {"count": torch.tensor([[5.0, 0.0], [5.0, 0.0]]), "shape_1": torch.tensor([[9.0, 0, 0], [9.0, 0, 0]])}
    assert judged_correct(logits, targets).tolist() == [True, False]  # an absent attribute is never held against it


def test_judge_heads_follow_the_schema_at_any_depth():
    for depth in (1, 2):
        judge = SceneJudge("mnist_captions", (1, 60, 60), width=8, depth=depth)
        logits = judge(torch.rand(2, 1, 60, 60))
        assert {name: tuple(v.shape) for name, v in logits.items()} == {
            name: (2, n) for name, n in SCHEMAS["mnist_captions"].items()
        }
        assert SceneJudge.from_config(judge.config).config == judge.config
    with pytest.raises(ValueError, match="unknown judge schema"):
        SceneJudge("cats")
