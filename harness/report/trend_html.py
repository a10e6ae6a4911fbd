"""trend.html: the run history on one self-contained page (images embedded, no script, no
network), for whoever asks "did last night's run get worse?". Groups whose newest run is
flagged come first; each group shows its plots, its change points, and every run with the
reason it was flagged, newest first."""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from harness.report.history import HistoryRow
from harness.report.html import VERDICT_COLOURS, page
from harness.report.plots import Plot
from harness.report.regression import PEAK, ChangePoint, GroupTrend, TrendRules
from harness.report.trend_plots import group_stem, render_trend_plots, run_start

TREND_DIR = "trend"
TREND_HTML = "trend.html"
MIB = 1 << 20
EXTRA_STYLE = (
    "tr.flagged td{background:#fdecea}.ok{color:#2e7d32;font-weight:700}.status{white-space:nowrap}"
)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(headers: Sequence[str], rows: Iterable[tuple[str, Sequence[str]]]) -> str:
    """Rows as (CSS class, already escaped cells); numbers are right-aligned by the caller."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        f"<tr class='{css}'>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"
        for css, cells in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _num(text: str) -> str:
    return f"<span style='float:right'>{_e(text)}</span>"


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value / MIB:,.1f}"


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


def _verdict(verdict: str) -> str:
    colour = VERDICT_COLOURS.get(verdict, "#2e7d32")
    return f"<span class='status' style='background:{colour}'>{_e(verdict)}</span>"


def _report_link(row: HistoryRow, page_dir: Path) -> str:
    report = Path(row.run_dir) / "report.html"
    if not report.is_file():
        return f"<code>{_e(row.id)}</code>"
    href = os.path.relpath(report, page_dir)
    return f"<a href='{_e(href)}'><code>{_e(row.id)}</code></a>"


def _runs_table(trend: GroupTrend, page_dir: Path) -> str:
    rows = []
    for number, row in reversed(list(enumerate(trend.runs, start=1))):
        flags = trend.flags.get(row.id, [])
        reasons = "<br>".join(f"<b>{_e(f.metric)}</b>: {_e(f.reason)}" for f in flags) or "-"
        rate = _num(leak_text(row))
        rps = "-" if row.requests_per_s is None else f"{row.requests_per_s:,.1f}"
        cells = (
            _num(str(number)),
            _report_link(row, page_dir),
            _e(run_start(row)),
            _e(row.status),
            _verdict(row.verdict),
            _e(", ".join(row.leaks) or "-"),
            rate,
            _num(_mib(row.peak_bytes)),
            _num(_mib(row.startup_bytes)),
            _num(rps),
            reasons,
        )
        rows.append(("flagged" if flags else "", cells))
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
    return _table(headers, rows)


def _image(plot: Plot, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f"<figure><img alt='{_e(plot.title)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{_e(plot.title)}: {_e(plot.caption)}</figcaption></figure>"
    )


def _group(trend: GroupTrend, plots: list[tuple[Plot, Path]], page_dir: Path) -> str:
    newest = trend.runs[-1]
    state = (
        "<span class='status' style='background:#c62828'>NEWEST RUN FLAGGED</span>"
        if trend.newest_flagged
        else "<span class='ok'>newest run not flagged</span>"
    )
    points = "".join(f"<li>{_e(change_text(p))}</li>" for p in trend.change_points)
    changes = f"<ul>{points}</ul>" if points else "<p class='muted'>No change point.</p>"
    images = "".join(_image(plot, path) for plot, path in plots)
    return f"""
<h2 id="{_e(group_stem(trend))}">{_e(trend.scenario)} @ {_e(trend.branch or "no branch")}</h2>
<p>{state} · {len(trend.runs)} runs shown, {len(trend.flags)} flagged · newest
<code>{_e(newest.id)}</code> ({_e(run_start(newest))}): {_verdict(newest.verdict)}</p>
{images or "<p class='muted'>Nothing to plot.</p>"}
<h3>Change points</h3>
{changes}
<h3>Runs, newest first</h3>
{_runs_table(trend, page_dir)}"""


def _index(groups: Sequence[GroupTrend]) -> str:
    rows = []
    for trend in groups:
        newest = trend.runs[-1]
        link = f"<a href='#{_e(group_stem(trend))}'>{_e(trend.scenario)}</a>"
        state = "FLAGGED" if trend.newest_flagged else "ok"
        cells = (
            link,
            _e(trend.branch or "-"),
            _num(str(len(trend.runs))),
            _num(str(len(trend.flags))),
            _num(str(len(trend.change_points))),
            f"<code>{_e(newest.id)}</code>",
            _verdict(newest.verdict),
            f"<b>{state}</b>",
        )
        rows.append(("flagged" if trend.newest_flagged else "", cells))
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
    return _table(headers, rows)


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
<p class="muted">History <code>{_e(history)}</code> · {sum(len(g.runs) for g in groups)} runs
shown in {len(groups)} group(s) of one scenario and branch each</p>
<p class="muted">{_e(explain)}</p>
{_index(groups)}
{"".join(_group(trend, group, out) for trend, group in zip(groups, plots, strict=True))}
</main>"""
    path = out / TREND_HTML
    path.write_text(page("Memory trends across runs", body, EXTRA_STYLE), encoding="utf-8")
    return path, plots
