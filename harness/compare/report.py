"""A comparison of two builds (`leak-harness compare`) as files for a pull request:
comparison.md (verdict, growth table, figures), comparison.json (everything, for scripts) and
comparison.png (the deciding series against cumulative requests, each run with its fit).

The plot shows each run's change since its judged window began rather than absolute memory:
two runs of the same service start a few MiB apart by chance, and that offset would dwarf the
difference in slope that the verdict is about."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from harness.analyze.verdict import load_samples, measured_rows
from harness.compare.comparison import Comparison, FigureDifference, Growth, growths
from harness.series import MEMORY_SERIES
from harness.units import MIB

COMPARISON_MD = "comparison.md"
COMPARISON_JSON = "comparison.json"
COMPARISON_PNG = "comparison.png"
SIDE_COLOURS = {"A": "#1f77b4", "B": "#d62728"}
MARKERS = "os^vD<>"
LINE_STYLES = ("-", "--", ":", "-.")


@dataclass(frozen=True)
class Side:
    """One build: its run directories and their analyses (verdict.json documents), in order."""

    name: str  # "A" (baseline) or "B" (candidate)
    run_dirs: list[Path]
    analyses: list[dict[str, Any]]

    @property
    def run_ids(self) -> list[str]:
        return [str((a.get("run") or {}).get("id", d.name)) for a, d in self.pairs]

    @property
    def pairs(self) -> list[tuple[dict[str, Any], Path]]:
        return list(zip(self.analyses, self.run_dirs, strict=True))


def plus_minus(growth: Growth) -> str:
    """A slope and the half-width of its 95% interval, B/request."""
    return f"{growth.slope:,.0f} ± {(growth.high - growth.low) / 2:,.0f}"


def signed_interval(difference: float, low: float, high: float) -> str:
    return f"{difference:+,.0f} ({low:+,.0f} .. {high:+,.0f})"


def figure_text(figure: FigureDifference) -> tuple[str, str, str]:
    """A figure's A, B and B - A as text, sizes in MiB."""
    scale, unit = (MIB, "MiB") if figure.unit == "bytes" else (1.0, "req/s")

    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value / scale:,.1f} {unit}"

    change = figure.difference
    relative = figure.relative
    delta = "-" if change is None else f"{change / scale:+,.1f} {unit}"
    if relative is not None:
        delta += f" ({relative:+.1%})"
    return shown(figure.a), shown(figure.b), delta


FIGURE_NAMES = {"peak_bytes": "peak", "startup_bytes": "startup", "requests_per_s": "req/s"}


def comparison_json(comparison: Comparison, a: Side, b: Side) -> dict[str, Any]:
    """comparison.json: the comparison, the runs of each side and each run's own growth."""

    def runs(side: Side) -> list[dict[str, Any]]:
        return [
            {
                "id": run_id,
                "run_dir": str(run_dir),
                "growth": {k: vars(g) for k, g in growths(analysis).items()},
            }
            for run_id, (analysis, run_dir) in zip(side.run_ids, side.pairs, strict=True)
        ]

    return {**comparison.to_json(), "a_runs": runs(a), "b_runs": runs(b)}


def markdown(comparison: Comparison, a: Side, b: Side, image: str | None) -> str:
    lines = [
        f"# Run comparison: {comparison.verdict}",
        "",
        f"**{comparison.verdict}** - {comparison.reason}",
        "",
        "| side | runs |",
        "|---|---|",
        f"| A (baseline) | {', '.join(f'`{i}`' for i in a.run_ids)} |",
        f"| B (candidate) | {', '.join(f'`{i}`' for i in b.run_ids)} |",
        "",
        "## Growth per request (B/request, ± half the 95% interval)",
        "",
        "| series | A | B | B - A (95% CI) | |",
        "|---|---:|---:|---:|---|",
    ]
    for d in comparison.series:
        mark = "decides" if d.series == comparison.deciding_series else ""
        lines.append(
            f"| {d.label} | {plus_minus(d.a)} | {plus_minus(d.b)} | "
            f"{signed_interval(d.difference, d.low, d.high)} | {mark} |"
        )
    lines += ["", f"Threshold: {comparison.threshold:,.0f} B/request.", "", "## Figures", ""]
    lines += ["| figure | A | B | B - A |", "|---|---:|---:|---:|"]
    for figure in comparison.figures:
        shown_a, shown_b, delta = figure_text(figure)
        lines.append(
            f"| {FIGURE_NAMES.get(figure.name, figure.name)} | {shown_a} | {shown_b} | {delta} |"
        )
    if comparison.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in comparison.notes]
    if image is not None:
        lines += ["", f"![memory against requests, A and B]({image})"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Curve:
    """One run's deciding series over its judged window, with that run's fitted slope."""

    side: str
    run_id: str
    requests: list[float]
    values: list[float]  # bytes
    slope: float  # B/request


def curve(
    side: str, run_id: str, run_dir: Path, analysis: Mapping[str, Any], series: str
) -> Curve | None:
    growth = growths(analysis).get(series)
    if growth is None:
        return None
    measured, _ = measured_rows(load_samples(run_dir))
    points = [
        (float(r["requests"]), float(r[series]))
        for r in measured
        if r.get(series) not in (None, "") and r.get("requests") not in (None, "")
    ]
    if len(points) < 2:
        return None
    return Curve(side, run_id, [p[0] for p in points], [p[1] for p in points], growth.slope)


def plot(comparison: Comparison, curves: Sequence[Curve]) -> Figure | None:
    """The deciding series of every run, as change since its judged window began, with the
    run's Theil-Sen line (anchored at the median residual, as the per-run growth plot)."""
    if not curves or comparison.deciding_series is None:
        return None
    series = comparison.deciding_series
    label = MEMORY_SERIES.get(series, series)
    figure, axes = plt.subplots(figsize=(10, 4.4))
    seen: dict[str, int] = {}
    for c in curves:
        index = seen[c.side] = seen.get(c.side, -1) + 1
        colour = SIDE_COLOURS.get(c.side, "#7f7f7f")
        residuals = sorted(y - c.slope * x for x, y in zip(c.requests, c.values, strict=True))
        intercept = residuals[len(residuals) // 2]
        start, end = c.requests[0], c.requests[-1]
        base = intercept + c.slope * start
        axes.scatter(
            c.requests,
            [(y - base) / MIB for y in c.values],
            s=7,
            color=colour,
            alpha=0.45,
            marker=MARKERS[index % len(MARKERS)],
        )
        axes.plot(
            [start, end],
            [0.0, c.slope * (end - start) / MIB],
            color=colour,
            linewidth=1.8,
            linestyle=LINE_STYLES[index % len(LINE_STYLES)],
            label=f"{c.side} {c.run_id}: {c.slope:,.0f} B/request",
        )
    deciding = next(d for d in comparison.series if d.series == series)
    axes.set_title(
        f"{label}: {comparison.verdict}, B - A = "
        f"{signed_interval(deciding.difference, deciding.low, deciding.high)} B/request",
        loc="left",
        fontsize=10,
    )
    axes.set_xlabel("cumulative requests")
    axes.set_ylabel("change from the fit at window start (MiB)")
    axes.axhline(0, color="#999999", linewidth=0.6)
    axes.legend(loc="upper left", fontsize=8)
    return figure


def write_reports(
    out: Path, comparison: Comparison, a: Side, b: Side, curves: Sequence[Curve]
) -> list[Path]:
    """comparison.json, comparison.png (when there is a curve to draw) and comparison.md."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    path = out / COMPARISON_JSON
    path.write_text(
        json.dumps(comparison_json(comparison, a, b), indent=2) + "\n", encoding="utf-8"
    )
    written.append(path)
    image: str | None = None
    drawn = plot(comparison, curves)
    png = out / COMPARISON_PNG
    if drawn is None:
        png.unlink(missing_ok=True)  # a re-run must not keep a stale picture
    else:
        drawn.tight_layout()
        drawn.savefig(png, dpi=110)
        plt.close(drawn)
        image = png.name
        written.append(png)
    path = out / COMPARISON_MD
    path.write_text(markdown(comparison, a, b, image), encoding="utf-8")
    written.append(path)
    return written
