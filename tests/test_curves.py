"""`vision-attention plot`: a run's metrics from Lightning's CSV logs, resumed versions joined,
drawn to a PNG with the runs overlaid."""

import pytest
from PIL import Image

from vision_attention.cli import main
from vision_attention.viz.curves import default_metrics, read_metrics

pytest.importorskip("matplotlib")


def write_log(folder, rows):
    folder.mkdir(parents=True)
    lines = ["epoch,step,train/loss,val/bleu4"] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")


def test_versions_are_joined_by_step_and_blank_cells_skipped(tmp_path):
    import os
    import time

    write_log(
        tmp_path / "run" / "lightning_logs" / "version_0",
        [(0, 9, 3.0, None), (0, 99, None, 0.10), (0, 199, None, 0.12)],
    )
    time.sleep(0.01)
    write_log(
        tmp_path / "run" / "lightning_logs" / "version_1", [(1, 199, None, 0.13), (1, 299, None, 0.15)]
    )  # resumed
    os.utime(tmp_path / "run" / "lightning_logs" / "version_1" / "metrics.csv")
    log = read_metrics(tmp_path / "run")
    assert log["val/bleu4"] == [(99, 0.10), (199, 0.13), (299, 0.15)] and log["train/loss"] == [(9, 3.0)]
    assert default_metrics([log]) == ["val/bleu4"]


def test_the_cli_overlays_runs_and_keeps_an_existing_png(tmp_path, capsys):
    write_log(tmp_path / "a", [(0, 99, 3.0, 0.10), (0, 199, 2.5, 0.14)])
    write_log(tmp_path / "b", [(0, 99, 3.2, 0.08), (0, 199, 2.6, 0.16)])
    out = tmp_path / "curves.png"
    assert (
        main(
            [
                "plot",
                str(tmp_path / "a"),
                str(tmp_path / "b"),
                "--metric",
                "val/bleu4",
                "--metric",
                "train/loss",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    image = Image.open(out)
    assert image.width > 800 and image.height > 300  # two panels side by side
    assert main(["plot", str(tmp_path / "a"), "--out", str(out)]) == 2
    assert "exists: pass --overwrite" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "a"), "--metric", "val/cider_d", "--out", str(tmp_path / "c.png")]) == 2
    assert "no val/cider_d logged" in capsys.readouterr().err and not (tmp_path / "c.png").exists()
