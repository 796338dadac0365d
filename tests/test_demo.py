"""The demo's wiring, with a few steps: it writes the page and every file the page shows.
(`make demo` runs it at full length: about ten CPU minutes.)"""

import json
import re

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
