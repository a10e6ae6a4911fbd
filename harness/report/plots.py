"""The run's plots as PNG files: memory over time, memory against requests with the fitted
growth, resources over time, and Locust's latency. Each is written beside the report and
embedded in it, so the report opens anywhere with no network.

Reading a leak off a chart is easier against requests than against time (a slower service
must not look leakier), so the fit is drawn on the requests axis, the same one the verdict
uses."""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.analyze.analysis import Analysis
from harness.analyze.checklist import Limits
from harness.analyze.verdict import measured_rows
from harness.series import MEMORY_SERIES, RESOURCE_SERIES, SERIES
from harness.units import MIB

PLOTS_DIR = "plots"
PHASE_COLOURS = {"warm-up": "#fff3c4", "load": "#e3f0ff", "idle": "#eeeeee", "cleanup": "#e5f7e5"}


@dataclass(frozen=True)
class Plot:
    name: str  # file name inside plots/
    title: str
    caption: str  # what to look at, in a sentence


def _float(value: str | None) -> float:
    return float(value) if value not in (None, "") else math.nan


def _column(rows: Sequence[dict[str, str]], name: str) -> list[float]:
    return [_float(row.get(name)) for row in rows]


def _has(values: list[float]) -> bool:
    return any(not math.isnan(v) for v in values)


def _time_unit(rows: Sequence[dict[str, str]]) -> tuple[float, str]:
    """Seconds for short runs, minutes for the rest: whole numbers read better."""
    last = float(rows[-1]["elapsed_s"]) if rows else 0.0
    return (1.0, "seconds") if last < 300 else (60.0, "minutes")


def _minutes(rows: Sequence[dict[str, str]]) -> list[float]:
    scale, _ = _time_unit(rows)
    return [float(row["elapsed_s"]) / scale for row in rows]


def _time_label(rows: Sequence[dict[str, str]]) -> str:
    return f"time since start ({_time_unit(rows)[1]})"


def _phase_spans(rows: Sequence[dict[str, str]]) -> list[tuple[str, float, float]]:
    spans: list[tuple[str, float, float]] = []
    scale, _ = _time_unit(rows)
    for row in rows:
        minute = float(row["elapsed_s"]) / scale
        if spans and spans[-1][0] == row["phase"]:
            spans[-1] = (spans[-1][0], spans[-1][1], minute)
        else:
            spans.append((row["phase"], minute, minute))
    return spans


def _shade_phases(axes: Axes, rows: Sequence[dict[str, str]]) -> None:
    for phase, start, end in _phase_spans(rows):
        colour = next((c for key, c in PHASE_COLOURS.items() if phase.startswith(key)), None)
        if colour is None or end <= start:
            continue
        axes.axvspan(start, end, color=colour, zorder=0, linewidth=0)
        axes.text(
            (start + end) / 2,
            0.99,
            phase,
            transform=axes.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=7,
            color="#555555",
        )


def _mark_end(axes: Axes, rows: Sequence[dict[str, str]], status: str) -> None:
    """An OOM kill or an interruption is drawn where it happened, not left for the reader to
    guess from a line that stops."""
    if status in ("completed", "running") or not rows:
        return
    end = float(rows[-1]["elapsed_s"]) / _time_unit(rows)[0]
    axes.axvline(end, color="#d62728", linestyle="--", linewidth=1.2)
    axes.text(end, 0.5, f" {status}", transform=axes.get_xaxis_transform(), color="#d62728")


def _legend_below(axes: Axes, second: Axes) -> None:
    """One legend for both y axes, under the plot, where it hides no data or phase label."""
    lines, labels = axes.get_legend_handles_labels()
    more, more_labels = second.get_legend_handles_labels()
    axes.legend(
        lines + more,
        labels + more_labels,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        fontsize=8,
        ncol=8,
        frameon=False,
    )


def _save(figure: Figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def memory_over_time(rows: Sequence[dict[str, str]], limits: Limits, status: str) -> Figure | None:
    minutes = _minutes(rows)
    figure, axes = plt.subplots(figsize=(10, 4.4))
    _shade_phases(axes, rows)
    top = 0.0
    for name, label in MEMORY_SERIES.items():
        values = [v / MIB for v in _column(rows, name)]
        if _has(values):
            axes.plot(minutes, values, label=label, color=SERIES[name].colour, linewidth=1.3)
            top = max(top, max(v for v in values if not math.isnan(v)))
    if top == 0:
        plt.close(figure)
        return None
    off_chart = []
    for label, mb, style in (
        ("warning", limits.warning_mb, ":"),
        ("critical", limits.critical_mb, "-."),
        ("limit", limits.container_limit_mb, "-"),
    ):
        if mb <= top * 1.6:  # the service's "MB" thresholds are MiB, as the checklist's
            axes.axhline(mb, color="#d62728", linestyle=style, linewidth=1, label=label)
        else:
            off_chart.append(f"{label} {mb:,.0f} MB")
    if off_chart:
        axes.set_title("above the chart: " + ", ".join(off_chart), loc="right", fontsize=8)
    _mark_end(axes, rows, status)
    axes.set_xlabel(_time_label(rows))
    axes.set_ylabel("memory (MiB)")
    axes.set_ylim(bottom=0)
    rate_axes = axes.twinx()
    rates = _smoothed(_request_rate(rows), window=5)
    rate_axes.plot(minutes[1:], rates, color="#7f7f7f", linewidth=0.8, alpha=0.7, label="req/s")
    rate_axes.set_ylabel("requests per second")
    rate_axes.set_ylim(bottom=0)
    _legend_below(axes, rate_axes)
    axes.set_title("Memory over time (phases shaded)", loc="left")
    return figure


def _request_rate(rows: Sequence[dict[str, str]]) -> list[float]:
    rates = []
    for before, after in itertools.pairwise(rows):
        seconds = float(after["elapsed_s"]) - float(before["elapsed_s"])
        done = int(after["requests"]) - int(before["requests"])
        rates.append(done / seconds if seconds > 0 else math.nan)
    return rates


def _smoothed(values: list[float], window: int) -> list[float]:
    """A trailing mean: per-sample request rates jitter with the sampling interval."""
    out = []
    for i in range(len(values)):
        recent = [v for v in values[max(0, i - window + 1) : i + 1] if not math.isnan(v)]
        out.append(sum(recent) / len(recent) if recent else math.nan)
    return out


def memory_against_requests(analysis: Analysis, rows: Sequence[dict[str, str]]) -> Figure | None:
    """The judged window only, with the Theil-Sen line and its 95% interval as a fan."""
    verdict = analysis.verdict
    name = verdict.deciding_series
    if name not in MEMORY_SERIES or verdict.bytes_per_request is None:
        return None
    measured, _ = measured_rows(list(rows))
    points = [
        (float(r["requests"]), float(r[name]))
        for r in measured
        if r.get(name) not in (None, "") and r.get("requests")
    ]
    if len(points) < 2:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    slope = verdict.bytes_per_request
    low, high = verdict.interval or (slope, slope)
    intercept = sorted(y - slope * x for x, y in points)[len(points) // 2]
    centre_x = sorted(xs)[len(xs) // 2]
    centre_y = intercept + slope * centre_x
    span = [min(xs), max(xs)]
    figure, axes = plt.subplots(figsize=(10, 4.0))
    axes.scatter(xs, [y / MIB for y in ys], s=6, color=SERIES[name].colour)
    axes.plot(
        span,
        [(intercept + slope * x) / MIB for x in span],
        color="#d62728",
        label=f"Theil-Sen: {slope:,.0f} B/request",
    )
    fan_x = [span[0] + (span[1] - span[0]) * i / 50 for i in range(51)]
    edges = [
        sorted((centre_y + low * (x - centre_x), centre_y + high * (x - centre_x))) for x in fan_x
    ]
    axes.fill_between(
        fan_x,
        [lower / MIB for lower, _ in edges],
        [upper / MIB for _, upper in edges],
        color="#d62728",
        alpha=0.15,
        label=f"95% interval {low:,.0f} .. {high:,.0f} B/request",
    )
    axes.set_xlabel("cumulative requests")
    axes.set_ylabel(f"{MEMORY_SERIES[name]} (MiB)")
    axes.set_title(f"Growth per request, judged window ({verdict.verdict})")
    axes.legend(loc="upper left", fontsize=8)
    return figure


def resources_over_time(rows: Sequence[dict[str, str]], status: str) -> Figure | None:
    present = {n: label for n, label in RESOURCE_SERIES.items() if _has(_column(rows, n))}
    if not present:
        return None
    minutes = _minutes(rows)
    figure, grid = plt.subplots(1, len(present), figsize=(10, 2.8), squeeze=False)
    for axes, (name, label) in zip(grid[0], present.items(), strict=True):
        _shade_phases(axes, rows)
        axes.plot(minutes, _column(rows, name), color=SERIES[name].colour, linewidth=1.2)
        _mark_end(axes, rows, status)
        axes.set_title(label, fontsize=9)
        axes.set_xlabel(_time_unit(rows)[1])
        axes.set_ylabel(SERIES[name].unit)
        axes.set_ylim(bottom=0)
    return figure


def latency(run_dir: Path, started: float | None) -> Figure | None:
    """Locust's aggregated percentiles and failures per second over the run."""
    history = run_dir / "locust_stats_history.csv"
    if not history.is_file():
        return None
    with history.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("Name") == "Aggregated"]
    rows = [r for r in rows if r.get("50%") not in (None, "", "N/A")]
    if len(rows) < 2:
        return None
    origin = started if started is not None else float(rows[0]["Timestamp"])
    span = float(rows[-1]["Timestamp"]) - origin
    scale, unit = (1.0, "seconds") if span < 300 else (60.0, "minutes")
    minutes = [(float(r["Timestamp"]) - origin) / scale for r in rows]
    figure, axes = plt.subplots(figsize=(10, 3.2))
    for column, colour in (("50%", "#1f77b4"), ("95%", "#ff7f0e"), ("99%", "#d62728")):
        axes.plot(minutes, [_float(r[column]) for r in rows], label=f"p{column[:-1]}", color=colour)
    axes.set_xlabel(f"time since start ({unit})")
    axes.set_ylabel("response time (ms)")
    axes.set_ylim(bottom=0)
    fail_axes = axes.twinx()
    fail_axes.plot(
        minutes, [_float(r["Failures/s"]) for r in rows], color="#7f7f7f", label="failures/s"
    )
    fail_axes.set_ylabel("failures per second")
    fail_axes.set_ylim(bottom=0)
    _legend_below(axes, fail_axes)
    axes.set_title("Latency (Locust, all routes)")
    return figure


def render_plots(
    run_dir: Path, analysis: Analysis, rows: Sequence[dict[str, str]], limits: Limits
) -> list[tuple[Plot, Path]]:
    """Every plot the run has data for, as (plot, PNG path) in reading order."""
    out = run_dir / PLOTS_DIR
    out.mkdir(exist_ok=True)
    status = analysis.run.status
    started = float(rows[0]["time"]) - float(rows[0]["elapsed_s"]) if rows else None
    made: list[tuple[Plot, Path]] = []
    candidates: list[tuple[Plot, Callable[[], Figure | None]]] = [
        (
            Plot("memory.png", "Memory over time", "Phases shaded; thresholds as red lines."),
            lambda: memory_over_time(rows, limits, status),
        ),
        (
            Plot(
                "growth.png",
                "Memory against requests",
                "The series that decided the verdict, in the judged window, with its fit.",
            ),
            lambda: memory_against_requests(analysis, rows),
        ),
        (
            Plot("resources.png", "Resources over time", "A leak of handles climbs and stays."),
            lambda: resources_over_time(rows, status),
        ),
        (
            Plot("latency.png", "Latency", "Locust's percentiles; failures on the right axis."),
            lambda: latency(run_dir, started),
        ),
    ]
    for plot, draw in candidates:
        path = out / plot.name
        figure = draw()
        if figure is None:
            path.unlink(missing_ok=True)  # a re-render must not keep a stale picture
            continue
        _save(figure, path)
        made.append((plot, path))
    return made
