"""report.html: one self-contained page per run (images embedded, no script, no network), for
the developer who must see why and where memory grows. The verdict and the checklist come
first; the evidence follows in the order a reader asks for it."""

from __future__ import annotations

import base64
import csv
import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.analyze.allocator import SERIES as ALLOCATOR_SERIES
from harness.analyze.allocator import Diagnosis
from harness.analyze.analysis import Analysis
from harness.analyze.memray import MemrayReport, StackSite
from harness.analyze.verdict import INCONCLUSIVE, LEAK
from harness.report.plots import Plot

REPORT_HTML = "report.html"
MIB = 1024 * 1024
VERDICT_COLOURS = {LEAK: "#c62828", INCONCLUSIVE: "#ef6c00"}
STATUS_COLOURS = {"PASS": "#2e7d32", "FAIL": "#c62828", "SKIP": "#757575"}
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#212121;
background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:1.4em;margin:0 0 4px}h2{font-size:1.15em;margin:28px 0 8px;border-bottom:1px
solid #ddd;padding-bottom:4px}
.badge{display:inline-block;padding:6px 14px;border-radius:4px;color:#fff;font-weight:700;
font-size:1.1em;margin-right:10px}
.banner{background:#fdecea;border-left:5px solid #c62828;padding:10px 14px;margin:12px 0}
.muted{color:#666}.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));
gap:10px;margin:12px 0}
.figure{background:#fff;border:1px solid #e0e0e0;border-radius:4px;padding:10px}
.figure b{display:block;font-size:1.15em}.figure span{color:#666;font-size:.85em}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9em}
th,td{border:1px solid #e0e0e0;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
.status{color:#fff;font-weight:700;border-radius:3px;padding:1px 6px}
img{max-width:100%;border:1px solid #e0e0e0;background:#fff}
figure{margin:12px 0}figcaption{color:#666;font-size:.85em}
code{font-size:.85em}details summary{cursor:pointer}
"""


def page(title: str, body: str, extra_style: str = "") -> str:
    """A self-contained HTML page: no script, no network, the shared style inline."""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        f"<style>{STYLE}{extra_style}</style></head><body>{body}</body></html>\n"
    )


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value / MIB:,.1f} MiB"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """Cells are already escaped HTML."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{cell}</td>" if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _status(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#757575")
    return f"<span class='status' style='background:{colour}'>{_e(status)}</span>"


def _figures(analysis: Analysis) -> str:
    verdict, figures = analysis.verdict, analysis.figures
    cells: list[tuple[str, str]] = []
    if verdict.bytes_per_request is not None and verdict.interval is not None:
        low, high = verdict.interval
        cells.append(
            (
                f"{verdict.bytes_per_request:,.0f} B/request",
                f"growth, 95% CI {low:,.0f}..{high:,.0f}",
            )
        )
    if verdict.detectable_bytes_per_request is not None:
        cells.append(
            (
                f"{verdict.detectable_bytes_per_request:,.0f} B/request",
                "smallest leak this run could detect",
            )
        )
    if verdict.growth_mb_per_hour is not None:
        rps = verdict.rules.get("production_rps", 0)
        cells.append((f"{verdict.growth_mb_per_hour:,.1f} MiB/hour", f"at {rps:,.0f} req/s"))
    if verdict.hours_to_limit is not None:
        cells.append((f"{verdict.hours_to_limit:,.1f} h", "until the container limit"))
    cells.append((f"{verdict.requests_measured:,}", "requests in the judged window"))
    cells.append((_mb(figures.startup_bytes), "startup memory"))
    cells.append((_mb(figures.peak_bytes), "peak memory"))
    if figures.requests_per_s is not None:
        cells.append((f"{figures.requests_per_s:,.1f} req/s", "throughput under load"))
    cells.append((f"{figures.failures:,} / {figures.requests:,}", "failed / all requests"))
    return (
        "<div class='figures'>"
        + "".join(
            f"<div class='figure'><b>{_e(value)}</b><span>{_e(label)}</span></div>"
            for value, label in cells
        )
        + "</div>"
    )


def _checklist(analysis: Analysis) -> str:
    rows = [(_status(i.status), _e(i.name), _e(i.evidence)) for i in analysis.checklist]
    return _table(["", "item", "evidence"], rows, set())


def _series(analysis: Analysis) -> str:
    rows = []
    for series in analysis.verdict.series:
        trend = series.trend
        if trend is None:
            rows.append((_e(series.label), "-", "-", "-", _e(series.reason)))
            continue
        judged = ("<b>LEAK</b>: " if series.leaking else "") + _e(series.reason)
        rows.append(
            (
                _e(series.label),
                f"{trend['slope']:,.2f} {_e(series.unit)}",
                f"{trend['low']:,.2f} .. {trend['high']:,.2f}",
                f"{trend['z']:.1f}",
                judged,
            )
        )
    return _table(["series", "growth", "95% CI", "trend z", "judged"], rows, {1, 2, 3})


def _suspects(analysis: Analysis) -> str:
    if not analysis.suspects:
        return f"<p class='muted'>No leak suspects ({_e(analysis.suspects_basis)}).</p>"
    rows = []
    for suspect in analysis.suspects:
        rate = f"{suspect.bytes_per_request:,.0f}" if suspect.bytes_per_request is not None else "?"
        frames = "<br>".join(f"<code>{_e(f)}</code>" for f in reversed(suspect.traceback))
        site = f"<details><summary><code>{_e(suspect.site)}</code></summary>{frames}</details>"
        steady = "yes" if suspect.grew_every_time else "no"
        rows.append(
            (site, rate, f"{suspect.size_growth / MIB:,.2f}", f"{suspect.count_growth:,}", steady)
        )
    table = _table(
        [
            "allocation site (click for the traceback, innermost first)",
            "B/request",
            "MiB grown",
            "blocks grown",
            "grew at every snapshot",
        ],
        rows,
        {1, 2, 3},
    )
    return f"<p class='muted'>{_e(analysis.suspects_basis)}</p>{table}"


def _stack_sites(sites: list[StackSite], per_request: bool) -> str:
    rows = []
    for site in sites:
        frames = "<br>".join(f"<code>{_e(f)}</code>" for f in site.frames)
        cell = f"<details><summary><code>{_e(site.site)}</code></summary>{frames}</details>"
        row = [cell, f"{site.bytes / MIB:,.2f}", f"{site.allocations:,}"]
        if per_request:
            rate = site.bytes_per_request
            row.append(f"{rate:,.0f}" if rate is not None else "?")
        rows.append(row)
    headers = ["site (click for the Python and native stack, innermost first)", "MiB", "blocks"]
    return _table([*headers, "B/request"] if per_request else headers, rows, {1, 2, 3})


def _memray(report: MemrayReport | None) -> str:
    """The native stacks of a run profiled with memray, with its leaks flamegraph."""
    if report is None:
        return ""
    link = (
        f"<a href='{_e(report.flamegraph)}'>leaks flamegraph</a> (memray, opens offline)"
        if report.flamegraph
        else "no flamegraph"
    )
    return f"""
<h3>Native stacks still holding memory at exit (memray)</h3>
<p class='muted'>{link} · capture <code>{_e(report.capture)}</code>
({report.capture_bytes / MIB:,.1f} MiB) · {report.held_bytes / MIB:,.1f} MiB still allocated
at exit, of which {report.held_noise_bytes / MIB:,.1f} MiB imports and the profilers'
own (not shown) · Python allocator: {_e(report.python_allocator)} · {_e(report.note)}.
A leak's site holds memory in proportion to the requests served: B/request is the memory
held divided by all requests of the run.</p>
{_stack_sites(report.leaks, per_request=True)}
<h3>Stacks holding memory at the peak ({report.peak_bytes / MIB:,.1f} MiB)</h3>
{_stack_sites(report.peak, per_request=False)}"""


def _allocator(diagnosis: Diagnosis | None) -> str:
    """Native leak or allocator retention: growth per request with glibc as the run had it and
    under each setting the scenario was rerun with."""
    if diagnosis is None:
        return ""
    runs = [diagnosis.before] + [t.growth for t in diagnosis.tried if t.growth is not None]
    rows = []
    for name, label in ALLOCATOR_SERIES.items():
        cells = [run.series.get(name) for run in runs]
        if all(cell is None for cell in cells):
            continue
        shown = [f"{c.slope:,.0f} ({c.low:,.0f} .. {c.high:,.0f})" if c else "-" for c in cells]
        rows.append([_e(label), *shown])
        released = [run.released_at_cleanup.get(name) for run in runs]
        if any(value is not None for value in released):
            rows.append([f"&nbsp;&nbsp;given back at cleanup ({_e(label)})", *map(_mb, released)])
    heads = [f"{run.allocator} ({run.requests:,} requests)" for run in runs]
    table = _table(["B/request (95% CI)", *heads], rows, set(range(1, len(runs) + 1)))
    tried = "".join(
        f"<li><b>{_e(t.setting)}</b> ({_e(t.description)}; "
        f"<code>{_e(' '.join(f'{k}={v}' for k, v in t.env.items()))}</code>): "
        f"<b>{_e(t.outcome)}</b> - {_e(t.reason)}"
        f"{f' · rerun <code>{_e(t.growth.run)}</code>' if t.growth else ''}</li>"
        for t in diagnosis.tried
    )
    tried += "".join(
        f"<li><b>{_e(s.setting)}</b>: skipped - {_e(s.reason)}</li>" for s in diagnosis.skipped
    )
    return f"""
<h2>Allocator diagnosis: {_e(diagnosis.decision)}</h2>
<p>{_e(diagnosis.reason)}.</p>
{table if len(runs) > 1 or rows else ""}
<ul>{tried}</ul>
<p class='muted'>The scenario was run again with allocator settings that give freed memory back
(allocator.json). Growth that persists is memory allocated and never freed; growth that goes away
is memory the allocator kept after it was freed. Judged on
{_e(ALLOCATOR_SERIES.get(diagnosis.resident_series or "", "-"))}, threshold
{diagnosis.threshold_bytes_per_request:,.0f} B/request.</p>"""


def _locust(run_dir: Path) -> str:
    path = run_dir / "locust_stats.csv"
    if not path.is_file():
        return "<p class='muted'>No Locust statistics in this run.</p>"
    with path.open(encoding="utf-8") as handle:
        stats = list(csv.DictReader(handle))
    rows = [
        (
            _e(f"{r.get('Type', '')} {r['Name']}".strip()),
            f"{int(r['Request Count']):,}",
            f"{int(r['Failure Count']):,}",
            _e(r.get("50%", "")),
            _e(r.get("95%", "")),
            _e(r.get("99%", "")),
            f"{float(r['Requests/s']):,.1f}",
        )
        for r in stats
        if r.get("Name")
    ]
    headers = ["route", "requests", "failures", "p50 ms", "p95 ms", "p99 ms", "req/s"]
    return _table(headers, rows, {1, 2, 3, 4, 5, 6})


def _metadata(analysis: Analysis, meta: dict[str, Any]) -> str:
    run = analysis.run
    env = meta.get("environment") or {}
    scenario = meta.get("scenario") or {}
    enforced = "enforced" if run.memory_limit_enforced else "NOT enforced"
    limit = f"{_mb(run.memory_limit_bytes)} ({enforced})" if run.memory_limit_bytes else "none"
    items = [
        ("run", run.id),
        ("status", run.status),
        ("started", run.started_at or "-"),
        ("duration", f"{run.duration_s:,.0f} s" if run.duration_s is not None else "-"),
        ("scenario", f"{run.scenario}: {scenario.get('description', '')}"),
        ("backend", run.backend or "-"),
        ("memory limit", limit),
        ("leak switches", ", ".join(run.leaks) or "none"),
        ("commit", f"{run.git_commit or '-'} ({run.git_branch or 'no branch'})"),
        (
            "versions",
            f"leak-harness {run.harness_version}, Python {env.get('python', '?')}, "
            f"Locust {env.get('locust', '?')}, kernel {env.get('kernel', '?')}",
        ),
    ]
    return _table(["", ""], [(_e(k), _e(v)) for k, v in items], set())


def _image(plot: Plot, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f"<figure><img alt='{_e(plot.title)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{_e(plot.title)}: {_e(plot.caption)}</figcaption></figure>"
    )


def render_html(
    run_dir: Path, analysis: Analysis, meta: dict[str, Any], plots: list[tuple[Plot, Path]]
) -> Path:
    verdict = analysis.verdict
    colour = VERDICT_COLOURS.get(verdict.verdict, "#2e7d32")
    banner = ""
    if analysis.run.status not in ("completed",):
        banner = (
            f"<div class='banner'><b>This run ended early: {_e(analysis.run.status)}.</b> "
            "Everything below is what it recorded up to that moment.</div>"
        )
    notes = "".join(f"<p class='muted'>Note: {_e(n)}</p>" for n in analysis.notes)
    classes = ", ".join(verdict.classes) or "-"
    links = " · ".join(
        f"<a href='{name}'>{name}</a>"
        for name in (
            "verdict.json",
            "summary.md",
            "junit.xml",
            "samples.csv",
            "events.jsonl",
            "target.log",
            "run.json",
            "memray/leaks-flamegraph.html",
            "allocator.json",
        )
        if (run_dir / name).exists() or name in ("summary.md", "junit.xml")
    )
    body = f"""
<main>
<h1>Memory leak report: {_e(analysis.run.id)}</h1>
<p class="muted">{_e(analysis.run.scenario)} scenario on the {_e(analysis.run.backend or "?")}
backend · {_e(analysis.run.started_at or "")}</p>
{banner}
<p><span class="badge" style="background:{colour}">{_e(verdict.verdict)}</span>
{_e(verdict.reason)}</p>
<p>What grows: <b>{_e(classes)}</b></p>
{notes}
{_figures(analysis)}
<h2>Pre-production checklist</h2>
{_checklist(analysis)}
<h2>Plots</h2>
{"".join(_image(plot, path) for plot, path in plots) or "<p class='muted'>No samples.</p>"}
<h2>Growth of each series (per request, judged window)</h2>
{_series(analysis)}
<h2>Leak suspects</h2>
{_suspects(analysis)}
{_memray(analysis.memray)}
{_allocator(analysis.allocator)}
<h2>Load (Locust)</h2>
{_locust(run_dir)}
<h2>Run</h2>
{_metadata(analysis, meta)}
<p class="muted">Files: {links}</p>
</main>"""
    path = run_dir / REPORT_HTML
    path.write_text(page(f"{verdict.verdict}: {analysis.run.id}", body), encoding="utf-8")
    return path
