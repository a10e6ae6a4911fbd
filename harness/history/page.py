"""trend.html: the run history on one self-contained page (images embedded, no script, no
network), for whoever asks "did last night's run get worse?". Groups whose newest run is
flagged come first; each group shows its plots, its change points, and every run with the
reason it was flagged, newest first."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from harness.history.plots import group_stem, render_trend_plots, run_start
from harness.history.regression import PEAK, ChangePoint, GroupTrend, TrendRules
from harness.history.store import HistoryRow
from harness.report.page import RED, badge, esc, image, page, table, verdict_badge
from harness.report.plots import Plot
from harness.units import MIB, mib

TREND_DIR = "trend"
TREND_HTML = "trend.html"
EXTRA_STYLE = "tr.flagged td{background:#fdecea}.ok{color:#2e7d32;font-weight:700}"


def leak_text(row: HistoryRow) -> str:
    """'1,021 (1,006 .. 1,036)' B/request, or '-' when the run measured no rate."""
    if row.bytes_per_request is None:
        return "-"
    text = f"{row.bytes_per_request:,.0f}"
    if row.interval_low is not None and row.interval_high is not None:
        text += f" ({row.interval_low:,.0f} .. {row.interval_high:,.0f})"
    return text


def change_text(point: ChangePoint) -> str:
    if point.metric == PEAK:
        levels = f"{point.before / MIB:,.1f} -> {point.after / MIB:,.1f} MiB"
    else:
        levels = f"{point.before:,.0f} -> {point.after:,.0f} B/request"
    return f"{point.metric} from run {point.run_id}: {levels} ({point.confidence:.0%} confident)"


def _report_link(row: HistoryRow, page_dir: Path) -> str:
    report = Path(row.run_dir) / "report.html"
    if not report.is_file():
        return f"<code>{esc(row.id)}</code>"
    href = os.path.relpath(report, page_dir)
    return f"<a href='{esc(href)}'><code>{esc(row.id)}</code></a>"


def _runs_table(trend: GroupTrend, page_dir: Path) -> str:
    rows, classes = [], []
    for number, row in reversed(list(enumerate(trend.runs, start=1))):
        flags = trend.flags.get(row.id, [])
        reasons = "<br>".join(f"<b>{esc(f.metric)}</b>: {esc(f.reason)}" for f in flags) or "-"
        rps = "-" if row.requests_per_s is None else f"{row.requests_per_s:,.1f}"
        cells = (
            str(number),
            _report_link(row, page_dir),
            esc(run_start(row)),
            esc(row.status),
            verdict_badge(row.verdict),
            esc(", ".join(row.leaks) or "-"),
            esc(leak_text(row)),
            mib(row.peak_bytes, unit=""),
            mib(row.startup_bytes, unit=""),
            rps,
            reasons,
        )
        rows.append(cells)
        classes.append("flagged" if flags else "")
    headers = [
        "#",
        "run",
        "started (UTC)",
        "status",
        "verdict",
        "leak switches",
        "leak rate B/request (95% CI)",
        "peak MiB",
        "startup MiB",
        "req/s",
        "flags",
    ]
    return table(headers, rows, {0, 6, 7, 8, 9}, classes)


def _group(trend: GroupTrend, plots: list[tuple[Plot, Path]], page_dir: Path) -> str:
    newest = trend.runs[-1]
    state = (
        badge("NEWEST RUN FLAGGED", RED)
        if trend.newest_flagged
        else "<span class='ok'>newest run not flagged</span>"
    )
    points = "".join(f"<li>{esc(change_text(p))}</li>" for p in trend.change_points)
    changes = f"<ul>{points}</ul>" if points else "<p class='muted'>No change point.</p>"
    images = "".join(image(plot, path) for plot, path in plots)
    return f"""
<h2 id="{esc(group_stem(trend))}">{esc(trend.scenario)} @ {esc(trend.branch or "no branch")}</h2>
<p>{state} · {len(trend.runs)} runs shown, {len(trend.flags)} flagged · newest
<code>{esc(newest.id)}</code> ({esc(run_start(newest))}): {verdict_badge(newest.verdict)}</p>
{images or "<p class='muted'>Nothing to plot.</p>"}
<h3>Change points</h3>
{changes}
<h3>Runs, newest first</h3>
{_runs_table(trend, page_dir)}"""


def _index(groups: Sequence[GroupTrend]) -> str:
    rows, classes = [], []
    for trend in groups:
        newest = trend.runs[-1]
        link = f"<a href='#{esc(group_stem(trend))}'>{esc(trend.scenario)}</a>"
        state = "FLAGGED" if trend.newest_flagged else "ok"
        cells = (
            link,
            esc(trend.branch or "-"),
            str(len(trend.runs)),
            str(len(trend.flags)),
            str(len(trend.change_points)),
            f"<code>{esc(newest.id)}</code>",
            verdict_badge(newest.verdict),
            f"<b>{state}</b>",
        )
        rows.append(cells)
        classes.append("flagged" if trend.newest_flagged else "")
    headers = [
        "scenario",
        "branch",
        "runs",
        "flagged",
        "change points",
        "newest run",
        "its verdict",
        "state",
    ]
    return table(headers, rows, {2, 3, 4}, classes)


def render_trend(
    out: Path, groups: Sequence[GroupTrend], history: Path, rules: TrendRules
) -> tuple[Path, list[list[tuple[Plot, Path]]]]:
    """Write the plots and trend.html into `out`; the page and each group's plots. PNGs of
    groups no longer shown are removed, so the directory matches the page."""
    out.mkdir(parents=True, exist_ok=True)
    plots = [render_trend_plots(out, trend) for trend in groups]
    written = {path for group in plots for _, path in group}
    for stale in out.glob("*.png"):
        if stale not in written:
            stale.unlink()
    explain = (
        f"A run is flagged when its leak rate (and its 95% interval) or its peak is above the "
        f"median + max({rules.k:g} x MAD, minimum change) of the {rules.window} completed runs "
        f"before it, or it is the first LEAK after runs that were not; runs with fewer than "
        f"{rules.min_baseline} runs before them are not judged. A change point is a lasting "
        f"shift of level (CUSUM, {rules.change_confidence:.0%} confidence), not one outlier."
    )
    body = f"""
<main>
<h1>Memory trends across runs</h1>
<p class="muted">History <code>{esc(history)}</code> · {sum(len(g.runs) for g in groups)} runs
shown in {len(groups)} group(s) of one scenario and branch each</p>
<p class="muted">{esc(explain)}</p>
{_index(groups)}
{"".join(_group(trend, group, out) for trend, group in zip(groups, plots, strict=True))}
</main>"""
    path = out / TREND_HTML
    path.write_text(page("Memory trends across runs", body, EXTRA_STYLE), encoding="utf-8")
    return path, plots
