"""Memory is bounded before work starts, and every bad setting is one line: huge or oddly shaped
photos, alignDRAW captions of any length, devices that are not there, GIF timings, seeds, and
metrics files that are not what they claim. Each test is a case a hostile but fair probe
reported (trust, third round)."""

import re
import subprocess
import sys
import time

import pytest
from PIL import Image

from vision_attention.cli import main
from vision_attention.inference import Drawer

from .helpers import cli_with_4_gib_free, refused_in_one_line


def test_a_photo_of_extreme_shape_makes_panels_of_bounded_size(tiny_captioner, tmp_path):
    """Reported: a 204-byte 1 x 30000 PNG with --html made word panels of 140 x 4.2M px and
    a traceback at 3.35 GB: the page was lost for every photo."""
    checkpoint, photos = tiny_captioner
    Image.new("RGB", (1, 30000), "white").save(tmp_path / "tall.png")
    status, peak_kib, err = cli_with_4_gib_free(
        [
            "caption",
            "--checkpoint",
            str(checkpoint),
            "--html",
            str(tmp_path / "page.html"),
            str(tmp_path / "tall.png"),
            str(photos[0]),
        ]
    )
    assert status == 0, err
    page = (tmp_path / "page.html").read_text()
    heights = [int(h) for h in re.findall(r"height=(\d+)", page)]
    assert heights and max(heights) <= 4 * 140 and peak_kib < 2 * 2**20


def test_memory_does_not_grow_with_the_number_of_huge_photos(tiny_captioner, tmp_path):
    """Reported: 9000 x 9000 PNGs (78 KB each, under Pillow's bomb limit) cost about 415 MB each
    decoded: 8 reached 4.3 GB and 32 a MemoryError with nothing written. Photos are now shrunk
    as they are decoded: four cost what one does."""
    checkpoint, _ = tiny_captioner
    huge = Image.new("RGB", (9000, 9000), (30, 120, 200))
    one, four = tmp_path / "one", tmp_path / "four"
    one.mkdir()
    four.mkdir()
    huge.save(one / "huge0.png")
    for i in range(4):
        (four / f"huge{i}.png").write_bytes((one / "huge0.png").read_bytes())
    peaks = []
    for folder in (one, four):
        status, peak_kib, err = cli_with_4_gib_free(["caption", "--checkpoint", str(checkpoint), str(folder)])
        assert status == 0, err
        peaks.append(peak_kib)
    assert peaks[1] - peaks[0] < 300 * 1024, f"one photo: {peaks[0] // 1024} MB, four: {peaks[1] // 1024} MB"


def test_an_aligndraw_caption_of_any_length_is_bounded_before_drawing(tmp_path, capsys):
    """Reported: a --caption of 30,800 words took 83 s and 2.3 GB and wrote a 364 x 38,004 px
    GIF; 100k words through the API reached 5.4 GB, then an OverflowError."""
    words = " ".join(["the digit 7 is on the left of the digit 2"] * 2800)  # 30,800 words
    start = time.perf_counter()
    refused_in_one_line(
        ["draw", "--caption", words, "--out", str(tmp_path / "d.gif")], capsys, "30,800 words", "at most 32"
    )
    assert time.perf_counter() - start < 20 and not (tmp_path / "d.gif").exists()
    drawer = Drawer.from_pretrained("aligndraw-mnist-captions")
    with pytest.raises(ValueError, match="draws from short captions|at most 32"):
        drawer.sample(2, caption=" ".join(["seven"] * 100_000))


def test_plot_never_waits_on_a_fifo_named_metrics_csv(tmp_path):
    """Reported: plot on a FIFO named metrics.csv blocked forever."""
    import os

    run = tmp_path / "run"
    run.mkdir()
    os.mkfifo(run / "metrics.csv")
    result = subprocess.run(
        [sys.executable, "-m", "vision_attention.cli", "plot", str(run), "--out", str(tmp_path / "c.png")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "no metrics.csv" in result.stderr and result.stderr.count("\n") == 1
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vision_attention.cli",
            "plot",
            str(run / "metrics.csv"),
            "--out",
            str(tmp_path / "c.png"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "not a regular file" in result.stderr


@pytest.mark.parametrize(
    "rows, expected",
    [
        ("step,val/loss\n0,1.0\ninf,0.5\n", "metrics.csv:3: step 'inf' is not a step"),
        ("step,val/loss\n0,1.0\n1,0.5,9,9\n", "metrics.csv:3: a row longer than the header"),
    ],
)
def test_plot_errors_are_one_line_naming_the_file(tmp_path, capsys, rows, expected):
    """Reported: a step of inf or a row longer than its header ended in tracebacks naming no file."""
    (tmp_path / "metrics.csv").write_text(rows)
    refused_in_one_line(["plot", str(tmp_path / "metrics.csv"), "--out", str(tmp_path / "c.png")], capsys, expected)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["draw", "--frame-ms", "100000000"], "--frame-ms must be an integer in [10, 655350]"),
        (["draw", "--seed", str(2**70)], "--seed must be an integer in [0, 9223372036854775807]"),
        (["draw", "--device", "bogus"], "--device must be cpu or cuda"),
        (["caption", "--device", "bogus", "x.jpg"], "--device must be cpu or cuda"),
        (["score", "--device", "bogus", "--imagenet", "."], "--device must be cpu or cuda"),
    ],
)
def test_settings_out_of_range_are_one_line_before_any_work(tmp_path, capsys, argv, expected):
    """Reported: --frame-ms 100000000 was an OverflowError after drawing, --seed 2**70 a
    traceback, --device bogus a 27-line traceback after loading."""
    start = time.perf_counter()
    refused_in_one_line([*argv, *(["--out", str(tmp_path / "d.gif")] if argv[0] == "draw" else [])], capsys, expected)
    assert time.perf_counter() - start < 5 and not (tmp_path / "d.gif").exists()


def test_a_cuda_device_where_there_is_none_is_one_line_before_loading(capsys, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    refused_in_one_line(
        ["caption", "--device", "cuda", "x.jpg"], capsys, "--device cuda: no CUDA GPU is available here"
    )


def test_export_errors_name_their_argument(tiny_captioner, tmp_path, capsys):
    """Reported: `--card card.bin` (not UTF-8) did not name --card; `export FOLDER` said "no
    such checkpoint file" instead of that it is a model folder already."""
    checkpoint, _ = tiny_captioner
    (tmp_path / "card.bin").write_bytes(b"\xff\xfe\x00binary")
    refused_in_one_line(
        ["export", str(checkpoint), str(tmp_path / "m"), "--card", str(tmp_path / "card.bin")],
        capsys,
        "--card",
        "not UTF-8",
    )
    assert main(["export", str(checkpoint), str(tmp_path / "m")]) == 0
    refused_in_one_line(["export", str(tmp_path / "m"), str(tmp_path / "n")], capsys, "a model folder already")
