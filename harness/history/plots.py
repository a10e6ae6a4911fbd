"""The trend plots of one scenario and branch across runs: leak rate (with each run's 95%
interval and the leak threshold), peak and startup memory (with the checklist's limits), and
throughput. Runs are numbered oldest first along the x axis, labelled with their start time;
a flagged run is shaded and its point drawn red, a change point is a dashed line before the
first run of the new level.

The x axis counts runs rather than time: nightly runs, reruns and manual runs come at uneven
intervals, and a regression is a property of one run, not of the hours between them."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.analyze.checklist import Limits
from harness.history.regression import (
    DEFAULT_LEAK_THRESHOLD,
    LEAK_RATE,
    PEAK,
    VERDICT,
    GroupTrend,
    median,
)
from harness.history.store import HistoryRow
from harness.report.plots import Plot
from harness.units import MIB

X_LABEL = "run number, oldest first (start time, UTC)"
FLAGGED = "#d62728"
NORMAL = "#1f77b4"
STARTUP = "#2ca02c"
CHANGE = "#6a1b9a"
BAND = "#fdecea"
MAX_TICKS = 20


def group_stem(trend: GroupTrend) -> str:
    """A file name stem per group: readable, and distinct even when two names read alike."""
    name = f"{trend.scenario}-{trend.branch or 'no-branch'}"
    digest = hashlib.sha1(f"{trend.scenario}\0{trend.branch}".encode()).hexdigest()[:6]
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name)[:60]}-{digest}"


def run_start(row: HistoryRow) -> str:
    """'2026-11-23 12:14' (UTC), or '?' when the run did not record its start."""
    if not row.started_at:
        return "?"
    try:
        return datetime.fromisoformat(row.started_at).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return row.started_at[:16]


def _run_ticks(axes: Axes, runs: Sequence[HistoryRow]) -> None:
    step = max(1, math.ceil(len(runs) / MAX_TICKS))
    shown = list(range(0, len(runs), step))
    axes.set_xticks(shown)
    axes.set_xticklabels(
        [f"{i + 1}\n{run_start(runs[i])[5:]}" for i in shown], fontsize=7, rotation=0
    )
    axes.set_xlim(-0.6, len(runs) - 0.4)
    axes.set_xlabel(X_LABEL)


def _flagged(trend: GroupTrend, metrics: set[str]) -> set[int]:
    """Indexes of the runs with a flag on one of `metrics`."""
    return {
        i
        for i, row in enumerate(trend.runs)
        if any(flag.metric in metrics for flag in trend.flags.get(row.id, ()))
    }


def _mark(axes: Axes, trend: GroupTrend, metric: str) -> None:
    """Every flagged run shaded (whatever the reason); this metric's change points dashed."""
    labelled = False
    for i in _flagged(trend, {LEAK_RATE, PEAK, VERDICT}):
        axes.axvspan(
            i - 0.45, i + 0.45, color=BAND, zorder=0, label=None if labelled else "flagged run"
        )
        labelled = True
    index = {row.id: i for i, row in enumerate(trend.runs)}
    labelled = False
    for point in trend.change_points:
        if point.metric != metric or point.run_id not in index:
            continue
        axes.axvline(
            index[point.run_id] - 0.5,
            color=CHANGE,
            linestyle="--",
            linewidth=1.2,
            label=None if labelled else "change point",
        )
        labelled = True


def _points(
    runs: Sequence[HistoryRow], value: Callable[[HistoryRow], float | None], scale: float = 1.0
) -> tuple[list[int], list[float]]:
    kept = [(i, v) for i, row in enumerate(runs) if (v := value(row)) is not None]
    return [i for i, _ in kept], [v / scale for _, v in kept]


def _finish(figure: Figure, axes: Axes, title: str) -> Figure:
    axes.set_title(title, loc="left", fontsize=10)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), fontsize=8, ncol=6, frameon=False)
    return figure


def leak_rate(trend: GroupTrend) -> Figure | None:
    """Growth per request of each run's deciding series, with its 95% interval."""
    runs = trend.runs
    xs, ys = _points(runs, lambda r: r.bytes_per_request)
    if not xs:
        return None
    red = _flagged(trend, {LEAK_RATE, VERDICT})
    figure, axes = plt.subplots(figsize=(10, 4.0))
    _mark(axes, trend, LEAK_RATE)
    styles = (
        (False, NORMAL, "leak rate, 95% interval"),
        (True, FLAGGED, "flagged: leak rate or verdict"),
    )
    for flagged, colour, label in styles:
        chosen = [(x, y) for x, y in zip(xs, ys, strict=True) if (x in red) == flagged]
        if not chosen:
            continue
        low = [y - _or(runs[x].interval_low, y) for x, y in chosen]
        high = [_or(runs[x].interval_high, y) - y for x, y in chosen]
        axes.errorbar(
            [x for x, _ in chosen],
            [y for _, y in chosen],
            yerr=[[max(v, 0.0) for v in low], [max(v, 0.0) for v in high]],
            fmt="o",
            color=colour,
            capsize=3,
            markersize=6 if flagged else 5,
            label=label,
        )
    thresholds = [r.leak_threshold for r in runs if r.leak_threshold is not None]
    threshold = median(thresholds) if thresholds else DEFAULT_LEAK_THRESHOLD
    axes.axhline(
        threshold,
        color=FLAGGED,
        linestyle=":",
        linewidth=1,
        label=f"leak threshold {threshold:,.0f} B/request",
    )
    axes.axhline(0, color="#9e9e9e", linewidth=0.8)
    _run_ticks(axes, runs)
    axes.set_ylabel("growth (B/request)")
    return _finish(figure, axes, f"Leak rate per run: {_name(trend)}")


def memory(trend: GroupTrend, limits: Limits) -> Figure | None:
    """Peak and startup memory per run, against the checklist's limits."""
    runs = trend.runs
    peak_x, peak_y = _points(runs, lambda r: r.peak_bytes, MIB)
    start_x, start_y = _points(runs, lambda r: r.startup_bytes, MIB)
    if not peak_x and not start_x:
        return None
    figure, axes = plt.subplots(figsize=(10, 4.0))
    _mark(axes, trend, PEAK)
    if peak_x:
        axes.plot(peak_x, peak_y, "-o", color=NORMAL, markersize=5, label="peak")
        red = [(x, y) for x, y in zip(peak_x, peak_y, strict=True) if x in _flagged(trend, {PEAK})]
        if red:
            axes.plot(
                *zip(*red, strict=True), "o", color=FLAGGED, markersize=7, label="peak flagged"
            )
    if start_x:
        axes.plot(start_x, start_y, "-s", color=STARTUP, markersize=4, label="startup")
    top = max(peak_y + start_y)
    off_chart = []
    for label, mb, style in (
        ("startup limit", limits.startup_mb, ":"),
        ("peak limit", limits.peak_mb, "-."),
    ):
        if mb <= top * 1.6:  # the checklist's "MB" are MiB, as everywhere in the harness
            axes.axhline(
                mb, color=FLAGGED, linestyle=style, linewidth=1, label=f"{label} {mb:,.0f}"
            )
        else:
            off_chart.append(f"{label} {mb:,.0f} MB")
    if off_chart:
        axes.set_title("above the chart: " + ", ".join(off_chart), loc="right", fontsize=8)
    axes.set_ylim(bottom=0)
    _run_ticks(axes, runs)
    axes.set_ylabel("memory (MiB)")
    return _finish(figure, axes, f"Peak and startup memory per run: {_name(trend)}")


def throughput(trend: GroupTrend) -> Figure | None:
    """Requests per second under load: a slower build can hide a leak per hour."""
    runs = trend.runs
    xs, ys = _points(runs, lambda r: r.requests_per_s)
    if not xs:
        return None
    figure, axes = plt.subplots(figsize=(10, 3.4))
    _mark(axes, trend, "throughput")
    axes.plot(xs, ys, "-o", color=NORMAL, markersize=5, label="requests/s under load")
    axes.set_ylim(bottom=0)
    _run_ticks(axes, runs)
    axes.set_ylabel("throughput (requests/s)")
    return _finish(figure, axes, f"Throughput per run: {_name(trend)}")


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _name(trend: GroupTrend) -> str:
    return f"{trend.scenario} @ {trend.branch or 'no branch'}"


def render_trend_plots(
    out: Path, trend: GroupTrend, limits: Limits | None = None
) -> list[tuple[Plot, Path]]:
    """The group's plots it has data for, as (plot, PNG path) in reading order."""
    out.mkdir(parents=True, exist_ok=True)
    stem = group_stem(trend)
    limits = limits or Limits()
    candidates: list[tuple[Plot, Callable[[], Figure | None]]] = [
        (
            Plot(
                f"{stem}-leak-rate.png",
                "Leak rate",
                "Each run's growth per request with its 95% interval; the dotted line is the "
                "leak threshold.",
            ),
            lambda: leak_rate(trend),
        ),
        (
            Plot(f"{stem}-memory.png", "Memory", "Peak and startup memory against the limits."),
            lambda: memory(trend, limits),
        ),
        (
            Plot(f"{stem}-throughput.png", "Throughput", "Requests per second under load."),
            lambda: throughput(trend),
        ),
    ]
    made: list[tuple[Plot, Path]] = []
    for plot, draw in candidates:
        path = out / plot.name
        figure = draw()
        if figure is None:
            path.unlink(missing_ok=True)
            continue
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        plt.close(figure)
        made.append((plot, path))
    return made
