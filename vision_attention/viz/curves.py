"""Training curves from Lightning's CSV logs, drawn with matplotlib (the ``plot`` extra):
``vision-attention plot RUN_DIR... --metric val/bleu4``.

A run folder may hold several versions (a run resumed with ``--ckpt_path last`` logs into a
new one): their rows are joined by step, the later version winning where two log the same.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path


def read_metrics(run: str | Path) -> dict[str, list[tuple[int, float]]]:
    """{metric: [(step, value), ...] sorted by step} of every ``metrics.csv`` under ``run``
    (or of ``run`` itself, a CSV file)."""
    run = Path(run)
    if run.exists() and not run.is_file() and not run.is_dir():
        raise ValueError(f"{run}: not a regular file (a FIFO or a device is not read)")
    files = [run] if run.is_file() else sorted(run.rglob("metrics.csv"), key=lambda p: p.stat().st_mtime)
    files = [p for p in files if p.is_file()]  # a FIFO named metrics.csv would block the reader forever
    if not files:
        raise FileNotFoundError(f"{run}: no metrics.csv (Lightning's CSVLogger writes one per run version)")
    by_metric: dict[str, dict[int, float]] = {}
    for path in files:
        try:
            _read_csv(path, by_metric)
        except (UnicodeDecodeError, csv.Error, OSError) as err:
            raise ValueError(f"{path}: not a metrics CSV ({err})") from err
    return {name: sorted(points.items()) for name, points in by_metric.items()}


def _read_csv(path: Path, by_metric: dict[str, dict[int, float]]) -> None:
    with open(path, encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            if None in row:  # DictReader's key for cells past the header
                raise ValueError(f"{path}:{line}: a row longer than the header")
            try:
                step = float(row.get("step") or 0)
            except ValueError:
                raise ValueError(f"{path}:{line}: step {row.get('step')!r} is not a number") from None
            if not math.isfinite(step) or step < 0:
                raise ValueError(f"{path}:{line}: step {row.get('step')!r} is not a step")
            for name, value in row.items():
                if name in ("epoch", "step") or value in ("", None):
                    continue
                try:
                    number = float(value)
                except ValueError:
                    continue
                if math.isfinite(number):
                    by_metric.setdefault(name, {})[int(step)] = number


def default_metrics(runs: Sequence[dict[str, list]], most: int = 4) -> list[str]:
    """The validation metrics every run logged (``val/...``), the loss or bound first."""
    common = set.intersection(*(set(r) for r in runs)) if runs else set()
    names = sorted(m for m in common if m.startswith("val/"))
    first = [m for m in ("val/nll", "val/loss", "val/bleu4", "val/cider_d", "val/acc") if m in names]
    return (first + [m for m in names if m not in first])[:most]


def plot_runs(
    runs: Sequence[str | Path],
    out: str | Path,
    metrics: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    write=None,
) -> Path:
    """One panel per metric against the training step, one line per run; written as a PNG
    through ``write(path, save)`` (default: straight to ``out``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError("plot needs matplotlib: pip install 'vision_attention[plot]'") from err
    logs = [read_metrics(r) for r in runs]
    named = bool(labels)
    labels = list(labels) if labels else [Path(r).name for r in runs]
    if len(labels) != len(runs):
        raise ValueError(f"{len(labels)} labels for {len(runs)} runs")
    metrics = list(metrics) if metrics else default_metrics(logs)
    if not metrics:
        raise ValueError("the runs share no val/ metric: name one with --metric")
    for name in metrics:
        for run, log in zip(runs, logs):
            if name not in log:
                raise ValueError(f"{run}: no {name} logged (it logged {', '.join(sorted(log)[:8])}...)")
    columns = min(len(metrics), 2)
    rows = math.ceil(len(metrics) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.4 * rows), squeeze=False)
    for axis, name in zip(axes.flat, metrics):
        for log, label in zip(logs, labels):
            steps, values = zip(*log[name])
            axis.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3, label=label)
        axis.set_title(name)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(metrics) :]:
        axis.set_visible(False)
    if len(runs) > 1 or named:
        axes.flat[0].legend(fontsize=8)
    figure.tight_layout()
    out = Path(out)

    def save(path: Path) -> None:
        figure.savefig(path, format="png", dpi=110)

    try:
        if write is None:
            out.parent.mkdir(parents=True, exist_ok=True)
            save(out)
        else:
            write(out, save)
    finally:
        plt.close(figure)
    return out
