"""A long `caption` run keeps its work and writes every name whole: stopped, it writes what it has
and resumes; one bad photo or one odd file name loses nothing; messages say what happened. Each
test is a case a hostile but fair probe reported (trust, third round)."""

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

from vision_attention.cli import main


def _cli(*argv, cwd=None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vision_attention.cli", *map(str, argv)],
        capture_output=True,
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        **kwargs,
    )


@pytest.fixture(scope="module")
def many(tiny_captioner, tmp_path_factory):
    """300 photos (copies of the tiny captioner's three, under different names)."""
    _, photos = tiny_captioner
    folder = tmp_path_factory.mktemp("many")
    for i in range(300):
        Image.open(photos[i % 3]).save(folder / f"p{i:03d}.png")
    return folder


def _interrupt(argv: list, signum: int, after: int = 40) -> subprocess.CompletedProcess:
    """Run the CLI and send ``signum`` once its progress bar has passed ``after`` photos."""
    # The CLI as a foreground command gets Ctrl-C: a test run started in the background (`make
    # test &`) has SIGINT ignored, which a plain `python -m` child would inherit and keep.
    foreground = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv[0] = 'vision-attention'; runpy.run_module('vision_attention.cli', run_name='__main__')"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", foreground, *map(str, argv)],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    seen = bytearray()

    def watch():
        sent = False
        while chunk := process.stderr.read(1):
            seen.extend(chunk)
            done = re.findall(rb"(\d+)/300", bytes(seen[-40:]))
            if not sent and done and int(done[-1]) >= after:
                process.send_signal(signum)
                sent = True

    reader = threading.Thread(target=watch)
    reader.start()
    out = process.stdout.read()
    process.wait(timeout=300)
    reader.join()
    return subprocess.CompletedProcess(process.args, process.returncode, out, bytes(seen))


def _read(path: Path, fmt: str) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    if fmt == "--json":
        return json.loads(text)
    if fmt == "--jsonl":
        return [json.loads(line) for line in text.splitlines()]
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    "fmt, signum, status",
    [("--json", signal.SIGINT, 130), ("--jsonl", signal.SIGTERM, 143), ("--csv", signal.SIGINT, 130)],
)
def test_an_interrupted_run_writes_what_it_has_and_resume_finishes_it(
    tiny_captioner, many, tmp_path, fmt, signum, status
):
    """Reported: Ctrl-C or SIGTERM after 96 of 300 photos wrote nothing, left no way to resume,
    and SIGINT printed a 71-line traceback."""
    checkpoint, _ = tiny_captioner
    out = tmp_path / "out"
    argv = ["caption", "--checkpoint", checkpoint, fmt, "--batch-size", "4", "--output", out, many]
    stopped = _interrupt(argv, signum)
    err = stopped.stderr.decode()
    assert stopped.returncode == status, err[-2000:]
    assert "Traceback" not in err
    written = _read(out, fmt)
    count = int(re.search(r"interrupted: wrote the captions of (\d+) of 300 photos", err).group(1))
    assert 0 < count < 300 and len(written) == count
    resumed = _cli(*argv[:-1], "--resume", many)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert f"{count} photos are in {out} already" in resumed.stderr.decode()
    final = _read(out, fmt)
    whole = _cli(*[a if a != out else tmp_path / "whole" for a in argv])
    assert [r["image"] for r in final] == sorted(str(p) for p in many.iterdir())
    assert [r["caption"] for r in final] == [r["caption"] for r in _read(tmp_path / "whole", fmt)]
    assert whole.returncode == 0


def _broken_exif_jpeg(path: Path) -> None:
    """A JPEG whose EXIF block is not TIFF: Pillow's EXIF reader raises on it."""
    Image.new("RGB", (40, 30), "red").save(path, exif=b"Exif\x00\x00not a tiff header at all")


def test_a_photo_with_a_malformed_exif_block_is_captioned_with_the_others(tiny_captioner, tmp_path, capsys):
    """Reported: one photo whose EXIF block is malformed killed the run (SyntaxError: not a
    TIFF file) and nothing was written for the good photos."""
    checkpoint, photos = tiny_captioner
    _broken_exif_jpeg(tmp_path / "broken_exif.jpg")
    out = tmp_path / "out.json"
    argv = ["caption", "--checkpoint", str(checkpoint), "--json", "--output", str(out)]
    assert main([*argv, str(photos[0]), str(tmp_path / "broken_exif.jpg"), str(photos[1])]) == 0
    assert len(json.loads(out.read_text())) == 3


def test_a_file_name_that_is_not_utf8_is_written_whole(tiny_captioner, tmp_path):
    """Reported: a file name that is not UTF-8 threw away every caption (UnicodeEncodeError
    naming no file), and --json to stdout printed invalid UTF-8 with rc 0."""
    checkpoint, photos = tiny_captioner
    folder = tmp_path / "photos"
    folder.mkdir()
    raw = os.fsencode(folder) + b"/caf\xe9.png"  # Latin-1, not UTF-8
    with open(raw, "wb") as f:
        f.write(photos[0].read_bytes())
    for fmt in ("--json", "--jsonl"):
        run = _cli("caption", "--checkpoint", checkpoint, fmt, folder)
        assert run.returncode == 0, run.stderr
        text = run.stdout.decode("utf-8")  # valid UTF-8
        record = json.loads(text)[0] if fmt == "--json" else json.loads(text.splitlines()[0])
        assert os.fsencode(record["image"]) == raw  # and lossless: the same bytes back
    for fmt, out in (("--csv", "out.csv"), ("--json", "out.json")):
        run = _cli("caption", "--checkpoint", checkpoint, fmt, "--output", tmp_path / out, folder)
        assert run.returncode == 0, run.stderr
    assert raw in (tmp_path / "out.csv").read_bytes()  # the name's own bytes
    assert os.fsencode(json.loads((tmp_path / "out.json").read_text("utf-8"))[0]["image"]) == raw
    lines = _cli("caption", "--checkpoint", checkpoint, folder)
    assert lines.returncode == 0 and lines.stdout.startswith(raw + b"\t")


def test_names_with_tabs_and_newlines_stay_one_line_each(tiny_captioner, tmp_path, capsys):
    """Reported: the default line format broke on file names holding a tab or a newline."""
    checkpoint, photos = tiny_captioner
    odd = [tmp_path / "a\tb.png", tmp_path / "line\nbreak.png", tmp_path / "back\\slash.png"]
    for path in odd:
        path.write_bytes(photos[0].read_bytes())
    assert main(["caption", "--checkpoint", str(checkpoint), *map(str, odd)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    names = [line.split("\t")[0] for line in lines]
    assert names == [
        str(tmp_path).replace("\\", "\\\\") + "/" + n for n in ("a\\tb.png", "line\\nbreak.png", "back\\\\slash.png")
    ]


def test_csv_cells_that_would_run_as_formulas_are_written_as_text(tiny_captioner, tmp_path, monkeypatch, capsys):
    """Reported: cells starting with =, +, - or @ were written raw, and a spreadsheet ran them."""
    checkpoint, photos = tiny_captioner
    monkeypatch.chdir(tmp_path)
    for name in ("=HYPERLINK(1).png", "+1.png", "@cmd.png", "-2.png"):
        (tmp_path / name).write_bytes(photos[0].read_bytes())
    assert (
        main(
            [
                "caption",
                "--checkpoint",
                str(checkpoint),
                "--csv",
                "--output",
                "out.csv",
                "--",
                "=HYPERLINK(1).png",
                "+1.png",
                "@cmd.png",
                "-2.png",
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())))
    assert [r["image"] for r in rows] == ["'=HYPERLINK(1).png", "'+1.png", "'@cmd.png", "'-2.png"]
    assert all(float(r["score"]) < 0 for r in rows)  # numbers stay numbers


def test_an_attention_dir_that_is_a_file_is_refused_before_captioning(tiny_captioner, tmp_path, capsys):
    """Reported: --attention-dir naming a file gave one error per photo after captioning them."""
    checkpoint, photos = tiny_captioner
    (tmp_path / "figures").write_text("a file")
    status = main(
        ["caption", "--checkpoint", str(checkpoint), "--attention-dir", str(tmp_path / "figures"), *map(str, photos)]
    )
    captured = capsys.readouterr()
    assert status == 2 and captured.err.count("\n") == 1 and "is a file, not a folder" in captured.err
    assert captured.out == ""


def test_files_a_folder_holds_that_are_not_photos_are_counted_and_said(tiny_captioner, tmp_path, capsys):
    """Reported: a folder's .HEIC files were skipped without a word."""
    checkpoint, photos = tiny_captioner
    for name in ("a.HEIC", "b.heic", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "c.png").write_bytes(photos[0].read_bytes())
    assert main(["caption", "--checkpoint", str(checkpoint), str(tmp_path)]) == 0
    assert "skipped 3 files whose names are not of images (2 .heic, 1 .txt)" in capsys.readouterr().err
