"""An output never destroys what it must not: an input, a model folder in use, a shipped model,
a device, another run's output, a folder holding anything but a model folder's files. Each test
is a case a hostile but fair probe reported (trust, third round)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from vision_attention import pretrained
from vision_attention.cli import main
from vision_attention.files.model_folders import CONFIG

from .helpers import refused_in_one_line


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_export_over_the_folder_holding_its_checkpoint_deletes_nothing(tiny_captioner, tmp_path, capsys):
    """Reported: `export CKPT DIR --overwrite` with the checkpoint inside DIR deleted it and
    every other file of the folder."""
    checkpoint, _ = tiny_captioner
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "model.ckpt").write_bytes(checkpoint.read_bytes())
    (folder / "notes.txt").write_text("mine")
    before = _snapshot(folder)
    refused_in_one_line(
        ["export", str(folder / "model.ckpt"), str(folder), "--overwrite"],
        capsys,
        "not only a model folder's files",
    )
    assert _snapshot(folder) == before


def test_export_replaces_a_model_folder_only_when_it_holds_nothing_else(tiny_captioner, tmp_path, capsys):
    checkpoint, _ = tiny_captioner
    folder = tmp_path / "model"
    assert main(["export", str(checkpoint), str(folder)]) == 0
    assert main(["export", str(checkpoint), str(folder), "--overwrite"]) == 0  # a model folder: replaced
    (folder / "extra.bin").write_bytes(b"x")
    refused_in_one_line(["export", str(checkpoint), str(folder), "--overwrite"], capsys, "holds extra.bin")
    assert (folder / "extra.bin").exists() and (folder / CONFIG).exists()


@pytest.fixture
def shipped_copy(tmp_path, monkeypatch):
    """The shipped models' folder copied, and the package pointed at the copy: a regression of
    the rule below spoils the copy, never the package's own models."""
    import shutil

    from vision_attention.files import outputs

    assert outputs.SHIPPED_ROOT == pretrained.ROOT  # the rule guards the package's own folder
    root = tmp_path / "pretrained"
    shutil.copytree(pretrained.ROOT, root)
    monkeypatch.setattr(pretrained, "ROOT", root)
    monkeypatch.setattr(outputs, "SHIPPED_ROOT", root)
    return root


def test_export_never_writes_into_the_shipped_models(tiny_captioner, capsys, shipped_copy):
    """Reported: export into a shipped model's folder replaced the shipped captioner and
    deleted its card."""
    checkpoint, _ = tiny_captioner
    shipped = pretrained.ROOT / "sat-soft-flickr8k"
    before = _snapshot(shipped)
    for target in (shipped, pretrained.ROOT / "new-model"):
        refused_in_one_line(["export", str(checkpoint), str(target), "--overwrite"], capsys, "shipped models")
    assert _snapshot(shipped) == before and not (pretrained.ROOT / "new-model").exists()


def test_output_inside_the_model_folder_in_use_or_a_shipped_model_is_refused(
    tiny_captioner, tmp_path, capsys, shipped_copy
):
    """Reported: --output onto config.json of the model folder in use (or of a shipped model)
    destroyed it with --overwrite."""
    checkpoint, photos = tiny_captioner
    folder = tmp_path / "model"
    assert main(["export", str(checkpoint), str(folder)]) == 0
    before = _snapshot(folder)
    refused_in_one_line(
        ["caption", "--model", str(folder), "--output", str(folder / CONFIG), "--overwrite", str(photos[0])],
        capsys,
        "inside the model folder",
    )
    assert _snapshot(folder) == before
    shipped = pretrained.ROOT / "sat-soft-flickr8k" / CONFIG
    data = shipped.read_bytes()
    refused_in_one_line(["caption", "--output", str(shipped), "--overwrite", str(photos[0])], capsys, "shipped models")
    assert shipped.read_bytes() == data


def test_a_device_or_fifo_is_written_into_never_replaced(tiny_captioner, tmp_path):
    """Reported: as root, --output /dev/null --overwrite replaced the device node by a regular
    file. Here a device node like /dev/null's (made where the test may, as root) and a FIFO
    stand in for it, so that a regression replaces only them."""
    import stat
    import threading

    checkpoint, photos = tiny_captioner
    argv = ["caption", "--checkpoint", str(checkpoint), "--overwrite", str(photos[0])]
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        null = None
    if null is not None:
        assert main([*argv, "--output", str(null)]) == 0
        assert null.is_char_device()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    assert main([*argv, "--output", str(fifo)]) == 0
    reader.join(timeout=60)
    assert fifo.is_fifo() and got and got[0].startswith(str(photos[0]) + "\t")


def test_a_second_run_writing_the_same_output_at_once_is_refused(tiny_captioner, tmp_path):
    """Reported: two `caption` runs writing the same --output at once both exited 0 and the
    first run's captions were lost. The first run claims the output; the second finds the claim."""
    checkpoint, photos = tiny_captioner
    out = tmp_path / "out.json"
    many = tmp_path / "many"
    many.mkdir()
    for i in range(400):
        Image.open(photos[i % len(photos)]).save(many / f"p{i:03d}.png")
    argv = ["caption", "--checkpoint", str(checkpoint), "--json", "--batch-size", "2", "--output", str(out)]
    first = subprocess.Popen(
        [sys.executable, "-m", "vision_attention.cli", *argv, str(many)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    claim = tmp_path / ".out.json.claim"
    for _ in range(600):  # the first run claims the output before it loads the model
        if claim.exists() and claim.read_text().strip():
            break
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGSTOP)  # held mid-run, whatever the machine's speed
    try:
        second = subprocess.run(
            [sys.executable, "-m", "vision_attention.cli", *argv, str(photos[0])], capture_output=True, text=True
        )
    finally:
        os.kill(first.pid, signal.SIGCONT)
    first.wait(timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    assert second.returncode == 2 and "being written by another run" in second.stderr, second.stderr
    assert out.read_text().count('"image"') == 400 and not claim.exists()


def test_an_output_folder_that_takes_no_file_is_found_before_any_photo_is_captioned(tiny_captioner, tmp_path, capsys):
    """Reported: a read-only --output folder was found only after every photo was captioned,
    and the error named the temporary file."""
    checkpoint, photos = tiny_captioner
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("this user writes into read-only folders (root): the read-only disk case is below")
        err = refused_in_one_line(
            ["caption", "--checkpoint", str(checkpoint), "--output", str(locked / "out.json"), str(photos[0])],
            capsys,
            f"cannot write in {locked}",
        )
        assert ".tmp" not in err
    finally:
        locked.chmod(0o755)


def test_an_output_on_a_read_only_disk_is_found_before_any_photo_is_captioned(tiny_captioner, tmp_path, capsys):
    from .helpers import remount_read_only, small_filesystem

    checkpoint, photos = tiny_captioner
    mount = tmp_path / "disk"
    with small_filesystem(mount, "256k"):
        remount_read_only(mount)
        err = refused_in_one_line(
            ["caption", "--checkpoint", str(checkpoint), "--output", str(mount / "out.json"), str(photos[0])],
            capsys,
            f"cannot write in {mount}",
        )
        assert "captioning" not in err and ".tmp" not in err
