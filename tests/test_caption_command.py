"""`vision-attention caption` as a tool for folders of photos: files, folders, globs in;
lines, JSON, JSON lines or CSV out; bad photos reported and skipped; outputs never clobber."""

import csv
import io
import json
import shutil

import pytest

from vision_attention.cli import main
from vision_attention.cli.caption_inputs import expand_inputs
from vision_attention.inference import Captioner


@pytest.fixture
def photos(tiny_captioner, tmp_path):
    """A folder: two photos at the top, one in a subfolder, a text file, a broken JPEG."""
    _, shapes = tiny_captioner
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    shutil.copy(shapes[0], root / "a.png")
    shutil.copy(shapes[1], root / "b.PNG")
    shutil.copy(shapes[2], root / "sub" / "c.png")
    (root / "notes.txt").write_text("not a photo")
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return root


def test_folders_globs_and_files_expand_in_order_each_once(photos):
    top, problems = expand_inputs([str(photos)])
    assert [p.name for p in top] == ["a.png", "b.PNG", "broken.jpg"] and problems == []
    deep, _ = expand_inputs([str(photos)], recursive=True)
    assert [p.name for p in deep] == ["a.png", "b.PNG", "broken.jpg", "c.png"]
    globbed, _ = expand_inputs([str(photos / "**" / "*.png"), str(photos / "a.png")])
    assert [p.name for p in globbed] == ["a.png", "c.png"]  # a.png matched twice, listed once
    _, problems = expand_inputs([str(photos / "none*.jpg"), str(photos / "missing.jpg"), str(photos / "sub" / "..")])
    assert problems == [
        f"{photos / 'none*.jpg'}: no file matches this pattern",
        f"{photos / 'missing.jpg'}: no such image file",
    ]


def _run(argv, capsys):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_json_jsonl_and_csv_hold_one_record_per_photo_and_the_broken_one_is_reported(tiny_captioner, photos, capsys):
    checkpoint, _ = tiny_captioner
    base = ["caption", "--checkpoint", str(checkpoint), "--recursive", "--batch-size", "2", str(photos)]
    status, out, err = _run([*base, "--json"], capsys)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert status == 1 and len(errors) == 1 and "broken.jpg" in errors[0]  # reported once, the rest captioned
    assert "skipped 1 files whose names are not of images (1 .txt)" in err  # the folder's note.txt, said
    records = json.loads(out)
    assert [r["image"] for r in records] == [str(photos / n) for n in ("a.png", "b.PNG", "sub/c.png")]
    assert all(set(r) == {"image", "caption", "score", "model", "beam_size", "guidance"} for r in records)
    assert all(r["guidance"] is None for r in records)  # a tiny CNN has no ImageNet classifier to guide it
    assert all(r["model"] == str(checkpoint) and r["beam_size"] == 3 and r["score"] < 0 for r in records)
    direct = Captioner.from_checkpoint(checkpoint).caption([photos / "a.png"], beam_size=3)[0]
    assert records[0]["caption"] == direct.text
    status, out, _ = _run([*base, "--jsonl"], capsys)
    assert [json.loads(line) for line in out.splitlines()] == records
    status, out, _ = _run([*base, "--csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["image"], r["caption"]) for r in rows] == [(r["image"], r["caption"]) for r in records]
    status, out, _ = _run(base, capsys)
    assert out.splitlines() == [f"{r['image']}\t{r['caption']}" for r in records]


def test_batches_give_the_captions_of_one_photo_at_a_time(tiny_captioner, photos, capsys):
    checkpoint, _ = tiny_captioner
    _, alone, _ = _run(
        ["caption", "--checkpoint", str(checkpoint), "--batch-size", "1", "--recursive", str(photos)], capsys
    )
    _, batched, _ = _run(
        ["caption", "--checkpoint", str(checkpoint), "--batch-size", "32", "--recursive", str(photos)], capsys
    )
    assert alone == batched and len(alone.splitlines()) == 3


def test_output_is_written_whole_and_never_over_an_input_or_an_existing_file(tiny_captioner, photos, tmp_path, capsys):
    checkpoint, _ = tiny_captioner
    out = tmp_path / "captions.json"
    status, stdout, err = _run(
        ["caption", "--checkpoint", str(checkpoint), "--json", "--output", str(out), str(photos / "a.png")], capsys
    )
    assert status == 0 and stdout == "" and len(json.loads(out.read_text())) == 1
    before = out.read_bytes()
    status, _, err = _run(
        ["caption", "--checkpoint", str(checkpoint), "--output", str(out), str(photos / "a.png")], capsys
    )
    assert status == 2 and "exists: pass --overwrite" in err and out.read_bytes() == before
    status, _, _ = _run(
        [
            "caption",
            "--checkpoint",
            str(checkpoint),
            "--csv",
            "--output",
            str(out),
            "--overwrite",
            str(photos / "a.png"),
        ],
        capsys,
    )
    assert status == 0 and out.read_text().startswith("image,caption,score,model,beam_size,constraints,evidence,met\n")
    image = (photos / "a.png").read_bytes()
    for target in (photos / "a.png", checkpoint):  # an input or the model itself, even with --overwrite
        status, _, err = _run(
            ["caption", "--checkpoint", str(checkpoint), "--output", str(target), "--overwrite", str(photos / "a.png")],
            capsys,
        )
        assert status == 2 and "is one of the inputs" in err
    assert (photos / "a.png").read_bytes() == image and Captioner.from_checkpoint(checkpoint)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary left


def test_a_missing_input_is_reported_and_the_others_captioned(tiny_captioner, photos, capsys):
    checkpoint, _ = tiny_captioner
    status, out, err = _run(
        ["caption", "--checkpoint", str(checkpoint), str(photos / "gone.jpg"), str(photos / "a.png")], capsys
    )
    assert status == 1 and len(out.splitlines()) == 1
    assert err.strip().splitlines() == [f"error: {photos / 'gone.jpg'}: no such image file"]


def test_model_and_checkpoint_together_are_one_line(tiny_captioner, photos, capsys):
    checkpoint, _ = tiny_captioner
    status, _, err = _run(["caption", "--checkpoint", str(checkpoint), "--model", str(checkpoint), str(photos)], capsys)
    assert status == 2 and err.strip().splitlines() == [
        "vision-attention: error: give --model or --checkpoint, not both"
    ]


def test_attention_figures_of_an_earlier_run_are_kept_unless_asked(tiny_captioner, photos, tmp_path, capsys):
    checkpoint, _ = tiny_captioner
    argv = [
        "caption",
        "--checkpoint",
        str(checkpoint),
        "--attention-dir",
        str(tmp_path / "att"),
        str(photos / "a.png"),
        str(photos / "b.PNG"),
    ]
    assert _run(argv, capsys)[0] == 0
    figure = tmp_path / "att" / "a.png.attention.png"
    figure.write_bytes(b"an earlier figure")
    status, out, err = _run(argv, capsys)
    assert (
        status == 2
        and out == ""
        and "a.png.attention.png exists: pass --overwrite" in err
        and "(1 more like it)" in err
    )
    assert figure.read_bytes() == b"an earlier figure"
    assert _run([*argv, "--overwrite"], capsys)[0] == 0 and figure.read_bytes().startswith(b"\x89PNG")
