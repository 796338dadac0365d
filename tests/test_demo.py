"""The demo's wiring, with a few steps: it writes the page and every file the page shows.
(`make demo` runs it at full length: about ten CPU minutes.)"""

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from vision_attention.demo import DemoSettings, run_demo


def test_demo_writes_a_page_whose_files_all_exist(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("VISION_ATTENTION_DATA", raising=False)  # the embedded default: generated data only
    settings = DemoSettings(caption_steps=3, draw_steps=2, examples=2, test_size=8)
    summary = run_demo(tmp_path, settings)
    page = (tmp_path / "index.html").read_text()
    for source in re.findall(r"src=['\"]([^'\"]+)['\"]", page):
        assert (tmp_path / source).is_file(), source
    assert Image.open(tmp_path / "drawing.gif").n_frames == summary["drawing"]["steps"] + 1
    assert json.loads((tmp_path / "metrics.json").read_text())["captioning"]["bleu4"] == summary["captioning"]["bleu4"]
    assert "below the bar" in page or "meets the bar" in page
    out = capsys.readouterr().out
    assert "captioning (held out): BLEU-4" in out and "index.html" in out
    assert "datasets/flickr8k.py" in page  # no Flickr8k here: the page says how to get it
    assert summary["photos"] is None


def test_with_flickr8k_the_page_shows_real_photos_with_their_attention(data_dir, tmp_path):
    if not (data_dir / "flickr8k" / "Flickr_8k.devImages.txt").is_file():
        pytest.skip("no Flickr8k with its split lists")
    settings = DemoSettings(
        caption_steps=2, draw_steps=2, examples=2, test_size=8, photo_train=16, photo_dev=4, photo_steps=2
    )
    summary = run_demo(tmp_path, settings)
    page = (tmp_path / "index.html").read_text()
    figures = [e["figure"] for e in summary["photos"]["examples"]]
    assert len(figures) == 2 and all(f"src='{f}'" in page for f in figures)
    for source in re.findall(r"src=['\"]([^'\"]+)['\"]", page):
        assert (tmp_path / source).is_file(), source
    dev = (data_dir / "flickr8k" / "Flickr_8k.devImages.txt").read_text().split()
    assert [Path(f).stem for f in figures] == [Path(name).stem for name in dev[:2]]  # dev photos, in list order
    assert f"BLEU-4 {summary['photos']['metrics']['bleu4']:.3f}" in page
