"""Captioning from a checkpoint alone, from Python and from the command line."""

import re
import shutil
import subprocess
import sys

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from vision_attention.cli import main
from vision_attention.data import ShapesCaptionsDataModule
from vision_attention.files.checkpoints import CheckpointError
from vision_attention.inference.captioner import Captioner, beam_bytes
from vision_attention.lit import CaptioningModule
from vision_attention.models import ShowAttendTell
from vision_attention.models.backbones import Backbone

from .helpers import cli_with_4_gib_free


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
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
    status = main(
        [
            "caption",
            "--checkpoint",
            str(path),
            "--beam-size",
            "2",
            "--max-len",
            "6",
            "--attention-dir",
            str(tmp_path / "att"),
            str(image_path),
            str(tmp_path / "broken.jpg"),
        ]
    )
    out, err = capsys.readouterr()
    assert status == 1
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{image_path}\t")
    assert "broken.jpg" in err and err.count("\n") == 1
    figure = Image.open(tmp_path / "att" / "shape.png.attention.png")
    assert figure.width > 160 and figure.height >= 160


def test_cli_user_mistakes_end_in_one_line(tmp_path):
    missing = subprocess.run(
        [sys.executable, "-m", "vision_attention.cli", "caption", "--checkpoint", str(tmp_path / "nope.ckpt"), "x.png"],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "nope.ckpt" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and "Traceback" not in missing.stderr


def test_attention_figures_never_overwrite_an_input_or_each_other(checkpoint, tmp_path, capsys):
    path, _, image_path = checkpoint
    photos = tmp_path / "photos"
    photos.mkdir()
    image = Image.open(image_path)
    for name in ("a.png", "a.jpg", "a.png.attention.png"):  # the last is named as a figure would be
        image.convert("RGB").save(photos / name)
    (tmp_path / "other").mkdir()
    image.save(tmp_path / "other" / "a.png")  # the same name in another folder
    inputs = [photos / "a.png", photos / "a.jpg", photos / "a.png.attention.png", tmp_path / "other" / "a.png"]
    before = {p: p.read_bytes() for p in inputs}
    assert (
        main(
            [
                "caption",
                "--checkpoint",
                str(path),
                "--beam-size",
                "2",
                "--max-len",
                "4",
                "--attention-dir",
                str(photos),
                *map(str, inputs),
            ]
        )
        == 0
    )
    assert all(p.read_bytes() == data for p, data in before.items())  # every input byte-identical
    figures = sorted(p.name for p in photos.iterdir() if p not in before)
    assert figures == [
        "a.jpg.attention.png",
        "a.png.attention-2.png",
        "a.png.attention-3.png",
        "a.png.attention.png.attention.png",
    ]


def test_a_figure_that_cannot_be_written_is_reported_and_the_rest_go_on(checkpoint, tmp_path, capsys):
    path, _, image_path = checkpoint
    out = tmp_path / "figures"
    out.mkdir()
    (out / "first.png.attention.png").mkdir()  # a folder where the first figure should go
    second = tmp_path / "second.png"
    second.write_bytes(image_path.read_bytes())
    first = tmp_path / "first.png"
    first.write_bytes(image_path.read_bytes())
    status = main(
        [
            "caption",
            "--checkpoint",
            str(path),
            "--beam-size",
            "2",
            "--max-len",
            "4",
            "--attention-dir",
            str(out),
            str(first),
            str(second),
        ]
    )
    captured = capsys.readouterr()
    assert status == 1 and len(captured.out.strip().splitlines()) == 2  # both captioned
    assert captured.err.count("\n") == 1 and "first.png.attention.png: cannot write" in captured.err
    assert (out / "second.png.attention.png").is_file()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temporary left behind


@pytest.mark.parametrize(
    "flag, value", [("--beam-size", "0"), ("--beam-size", "-1"), ("--max-len", "0"), ("--max-len", "-3")]
)
def test_a_number_out_of_range_is_one_line_naming_the_flag(checkpoint, flag, value, capsys):
    path, _, image_path = checkpoint
    assert main(["caption", "--checkpoint", str(path), flag, value, str(image_path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"vision-attention: error: {flag} must be an integer >= 1, got {int(value)}"
    ]


def test_the_beam_estimate_of_a_flickr8k_captioner_exceeds_a_laptop():
    config = {"feature_dim": 1280, "attn_dim": 512, "vocab_size": 2540, "hidden_dim": 512}  # Lite0 7 x 7, dims 512
    measured = 490 * 2**20 / 2000  # peak RSS of a real Lite0 checkpoint: 490 MiB more for 2000 beams than for 3
    assert measured <= beam_bytes(config, 49, 30) <= 3 * measured  # on the safe side, not absurdly
    assert beam_bytes(config, 49, 30) * 100_000 > 32 * 2**30  # so --beam-size 100000 is refused below 40 GiB free


def test_a_beam_too_large_for_memory_is_refused_before_the_search(checkpoint):
    path, _, image_path = checkpoint  # this model is tiny: a million beams would take about 20 GB
    status, peak_kib, stderr = cli_with_4_gib_free(
        ["caption", "--checkpoint", str(path), "--beam-size", "1000000", "--max-len", "30", str(image_path)]
    )
    assert status == 2 and peak_kib < 2 * 2**20, stderr  # refused, under 2 GB resident
    assert stderr.strip().splitlines() == [
        next(
            line
            for line in stderr.splitlines()
            if line.startswith("vision-attention: error: beam_size 1000000 over 1 image(s) needs about")
        )
    ]
    assert "free on cpu (at most" in stderr


def test_a_path_its_pil_image_and_its_array_give_the_same_caption(checkpoint, tmp_path):
    from PIL import ImageOps

    path, _, image_path = checkpoint
    captioner = Captioner.from_checkpoint(path)
    shape = Image.open(image_path).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side
    shape.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    gray = np.asarray(shape.convert("L"), dtype=np.uint16) * 257
    Image.fromarray(gray).save(tmp_path / "deep.png")  # 16-bit grayscale
    rgba = shape.convert("RGBA")
    rgba.putalpha(Image.fromarray((np.indices(shape.size[::-1])[1] * 8 % 256).astype(np.uint8)))
    rgba.save(tmp_path / "alpha.png")
    for name in ("rotated.jpg", "deep.png", "alpha.png"):
        with Image.open(tmp_path / name) as opened:
            as_pil = opened.copy()
        array = np.asarray(ImageOps.exif_transpose(as_pil))  # its pixels as shown, at their own depth
        assert array.dtype == (np.uint16 if name == "deep.png" else np.uint8)
        captions = [captioner.caption(x, beam_size=2, max_len=6)[0] for x in (tmp_path / name, as_pil, array)]
        assert captions[0].text == captions[1].text == captions[2].text, name
        for other in captions[1:]:
            torch.testing.assert_close(other.alphas, captions[0].alphas)


def _photo(path, colour=(230, 20, 200)):
    """A 300 x 200 photo of one strong colour with a grey square: easy to find in a screenshot."""
    array = np.zeros((200, 300, 3), np.uint8) + np.array(colour, np.uint8)
    array[60:140, 100:200] = 128
    Image.fromarray(array).save(path)
    return path


def test_html_page_holds_every_photo_caption_and_word_inline(checkpoint, tmp_path, capsys):
    path, _, image_path = checkpoint
    photos = [image_path, _photo(tmp_path / "magenta.png")]
    page = tmp_path / "out" / "page.html"
    assert (
        main(
            [
                "caption",
                "--checkpoint",
                str(path),
                "--beam-size",
                "2",
                "--max-len",
                "5",
                "--html",
                str(page),
                *map(str, photos),
            ]
        )
        == 0
    )
    out, _ = capsys.readouterr()
    captions = [line.split("\t", 1)[1] for line in out.strip().splitlines()]
    text = page.read_text(encoding="utf-8")
    assert text.count("<section>") == 2 and "shape.png" in text and "magenta.png" in text
    for caption in captions:
        assert f"<p class=caption>{caption}</p>" in text
    sources = re.findall(r"src='([^']*)'", text)
    assert sources and all(s.startswith("data:image/jpeg;base64,") for s in sources)  # nothing outside the page
    panels = re.findall(r"<figcaption>([^<]*)</figcaption>", text)  # one per word, and <end> when reached
    assert [w for w in panels if w != "&lt;end&gt;"] == " ".join(captions).split()
    assert len(sources) == 2 + len(panels)
    assert list(tmp_path.joinpath("out").iterdir()) == [page]  # no temporary file left


def test_html_page_refuses_an_input_path_or_another_suffix(checkpoint, tmp_path, capsys):
    path, _, image_path = checkpoint
    html_input = tmp_path / "photo.html"
    html_input.write_bytes(b"<p>keep me</p>")
    assert main(["caption", "--checkpoint", str(path), "--html", str(html_input), str(html_input)]) == 2
    assert html_input.read_bytes() == b"<p>keep me</p>"
    assert main(["caption", "--checkpoint", str(path), "--html", str(tmp_path / "page.png"), str(image_path)]) == 2
    err = capsys.readouterr().err
    assert "is one of the inputs" in err and "--html must name an .html file" in err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install chromium)")
def test_html_page_renders_in_a_headless_browser(checkpoint, tmp_path):
    path, _, _ = checkpoint
    page, shot = tmp_path / "page.html", tmp_path / "shot.png"
    assert (
        main(
            [
                "caption",
                "--checkpoint",
                str(path),
                "--max-len",
                "3",
                "--html",
                str(page),
                str(_photo(tmp_path / "magenta.png")),
            ]
        )
        == 0
    )
    # The flags keep a headless run off the network and out of the user's profile.
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=800,900",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert image.shape == (900, 800, 3)
    magenta = (np.abs(image - [230, 20, 200]).sum(axis=2) < 40).sum()
    # The photo is shown 300 x 200 with a 100 x 80 grey square: 52,000 magenta pixels, plus
    # the word panels' share; text and white space have none.
    assert magenta >= 40_000
    assert (image.sum(axis=2) < 200).sum() > 200  # dark pixels: the heading and caption text


def test_the_memory_probe_counts_the_child_alone_not_the_test_process_that_started_it(tmp_path):
    ballast = bytearray(2 * 2**30)  # this process's peak: over the 2 GiB a refused request may use
    ballast[::4096] = b"\1" * (len(ballast) // 4096)  # touch every page, so it is resident
    status, peak_kib, stderr = cli_with_4_gib_free(["caption", "--checkpoint", str(tmp_path / "missing.ckpt"), "x.jpg"])
    del ballast
    assert status == 2 and "no such checkpoint file" in stderr
    assert peak_kib < 2 * 2**20  # the child imports torch and stops: well under the ballast
