"""report.html: one self-contained page per run (images embedded, no script, no network), for
the developer who must see why and where memory grows. The verdict and the checklist come
first; the evidence follows in the order a reader asks for it."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from harness.analyze.allocator import SERIES as ALLOCATOR_SERIES
from harness.analyze.allocator import Diagnosis
from harness.analyze.analysis import Analysis
from harness.analyze.memray import MemrayReport, StackSite
from harness.analyze.verdict import Verdict
from harness.report.page import GREEN, VERDICT_COLOURS, esc, image, page, status_badge, table
from harness.report.plots import Plot
from harness.units import MIB, mib

REPORT_HTML = "report.html"


def _horizon(verdict: Verdict) -> str:
    """The threshold in days to the limit, and what the run ruled out in those terms."""
    said = [s for s in (verdict.limit_question, verdict.limit_ruled_out) if s]
    return f"<p>The limit: {esc('; ruled out: '.join(said))}.</p>" if said else ""


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
    cells.append((mib(figures.startup_bytes), "startup memory"))
    cells.append((mib(figures.peak_bytes), "peak memory"))
    if figures.requests_per_s is not None:
        cells.append((f"{figures.requests_per_s:,.1f} req/s", "throughput under load"))
    cells.append((f"{figures.failures:,} / {figures.requests:,}", "failed / all requests"))
    return (
        "<div class='figures'>"
        + "".join(
            f"<div class='figure'><b>{esc(value)}</b><span>{esc(label)}</span></div>"
            for value, label in cells
        )
        + "</div>"
    )


def _checklist(analysis: Analysis) -> str:
    rows = [(status_badge(i.status), esc(i.name), esc(i.evidence)) for i in analysis.checklist]
    return table(["", "item", "evidence"], rows)


def _series(analysis: Analysis) -> str:
    rows = []
    for series in analysis.verdict.series:
        trend = series.trend
        if trend is None:
            rows.append((esc(series.label), "-", "-", "-", esc(series.reason)))
            continue
        judged = ("<b>LEAK</b>: " if series.leaking else "") + esc(series.reason)
        rows.append(
            (
                esc(series.label),
                f"{trend['slope']:,.2f} {esc(series.unit)}",
                f"{trend['low']:,.2f} .. {trend['high']:,.2f}",
                f"{trend['z']:.1f}",
                judged,
            )
        )
    return table(["series", "growth", "95% CI", "trend z", "judged"], rows, {1, 2, 3})


def _suspects(analysis: Analysis) -> str:
    if not analysis.suspects:
        return f"<p class='muted'>No leak suspects ({esc(analysis.suspects_basis)}).</p>"
    rows = []
    for suspect in analysis.suspects:
        rate = f"{suspect.bytes_per_request:,.0f}" if suspect.bytes_per_request is not None else "?"
        frames = "<br>".join(f"<code>{esc(f)}</code>" for f in reversed(suspect.traceback))
        site = f"<details><summary><code>{esc(suspect.site)}</code></summary>{frames}</details>"
        steady = "yes" if suspect.grew_every_time else "no"
        rows.append(
            (site, rate, f"{suspect.size_growth / MIB:,.2f}", f"{suspect.count_growth:,}", steady)
        )
    shown = table(
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
    return f"<p class='muted'>{esc(analysis.suspects_basis)}</p>{shown}"


def _stack_sites(sites: list[StackSite], per_request: bool) -> str:
    rows = []
    for site in sites:
        frames = "<br>".join(f"<code>{esc(f)}</code>" for f in site.frames)
        cell = f"<details><summary><code>{esc(site.site)}</code></summary>{frames}</details>"
        row = [cell, f"{site.bytes / MIB:,.2f}", f"{site.allocations:,}"]
        if per_request:
            rate = site.bytes_per_request
            row.append(f"{rate:,.0f}" if rate is not None else "?")
        rows.append(row)
    headers = ["site (click for the Python and native stack, innermost first)", "MiB", "blocks"]
    return table([*headers, "B/request"] if per_request else headers, rows, {1, 2, 3})


def _memray(report: MemrayReport | None) -> str:
    """The native stacks of a run profiled with memray, with its leaks flamegraph."""
    if report is None:
        return ""
    link = (
        f"<a href='{esc(report.flamegraph)}'>leaks flamegraph</a> (memray, opens offline)"
        if report.flamegraph
        else "no flamegraph"
    )
    return f"""
<h3>Native stacks still holding memory at exit (memray)</h3>
<p class='muted'>{link} · capture <code>{esc(report.capture)}</code>
({report.capture_bytes / MIB:,.1f} MiB) · {report.held_bytes / MIB:,.1f} MiB still allocated
at exit, of which {report.held_noise_bytes / MIB:,.1f} MiB imports and the profilers'
own (not shown) · Python allocator: {esc(report.python_allocator)} · {esc(report.note)}.
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
        rows.append([esc(label), *shown])
        released = [run.released_at_cleanup.get(name) for run in runs]
        if any(value is not None for value in released):
            rows.append([f"&nbsp;&nbsp;given back at cleanup ({esc(label)})", *map(mib, released)])
    heads = [f"{run.allocator} ({run.requests:,} requests)" for run in runs]
    growth = table(["B/request (95% CI)", *heads], rows, set(range(1, len(runs) + 1)))
    tried = "".join(
        f"<li><b>{esc(t.setting)}</b> ({esc(t.description)}; "
        f"<code>{esc(' '.join(f'{k}={v}' for k, v in t.env.items()))}</code>): "
        f"<b>{esc(t.outcome)}</b> - {esc(t.reason)}"
        f"{f' · rerun <code>{esc(t.growth.run)}</code>' if t.growth else ''}</li>"
        for t in diagnosis.tried
    )
    tried += "".join(
        f"<li><b>{esc(s.setting)}</b>: skipped - {esc(s.reason)}</li>" for s in diagnosis.skipped
    )
    return f"""
<h2>Allocator diagnosis: {esc(diagnosis.decision)}</h2>
<p>{esc(diagnosis.reason)}.</p>
{growth if len(runs) > 1 or rows else ""}
<ul>{tried}</ul>
<p class='muted'>The scenario was run again with allocator settings that give freed memory back
(allocator.json). Growth that persists is memory allocated and never freed; growth that goes away
is memory the allocator kept after it was freed. Judged on
{esc(ALLOCATOR_SERIES.get(diagnosis.resident_series or "", "-"))}, threshold
{diagnosis.threshold_bytes_per_request:,.0f} B/request.</p>"""


def _locust(run_dir: Path) -> str:
    path = run_dir / "locust_stats.csv"
    if not path.is_file():
        return "<p class='muted'>No Locust statistics in this run.</p>"
    with path.open(encoding="utf-8") as handle:
        stats = list(csv.DictReader(handle))
    rows = [
        (
            esc(f"{r.get('Type', '')} {r['Name']}".strip()),
            f"{int(r['Request Count']):,}",
            f"{int(r['Failure Count']):,}",
            esc(r.get("50%", "")),
            esc(r.get("95%", "")),
            esc(r.get("99%", "")),
            f"{float(r['Requests/s']):,.1f}",
        )
        for r in stats
        if r.get("Name")
    ]
    headers = ["route", "requests", "failures", "p50 ms", "p95 ms", "p99 ms", "req/s"]
    return table(headers, rows, {1, 2, 3, 4, 5, 6})


def _metadata(analysis: Analysis, meta: dict[str, Any]) -> str:
    run = analysis.run
    env = meta.get("environment") or {}
    scenario = meta.get("scenario") or {}
    enforced = "enforced" if run.memory_limit_enforced else "NOT enforced"
    limit = f"{mib(run.memory_limit_bytes)} ({enforced})" if run.memory_limit_bytes else "none"
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
    return table(["", ""], [(esc(k), esc(v)) for k, v in items])


def render_html(
    run_dir: Path, analysis: Analysis, meta: dict[str, Any], plots: list[tuple[Plot, Path]]
) -> Path:
    verdict = analysis.verdict
    colour = VERDICT_COLOURS.get(verdict.verdict, GREEN)
    banner = ""
    if analysis.run.status not in ("completed",):
        banner = (
            f"<div class='banner'><b>This run ended early: {esc(analysis.run.status)}.</b> "
            "Everything below is what it recorded up to that moment.</div>"
        )
    notes = "".join(f"<p class='muted'>Note: {esc(n)}</p>" for n in analysis.notes)
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
<h1>Memory leak report: {esc(analysis.run.id)}</h1>
<p class="muted">{esc(analysis.run.scenario)} scenario on the {esc(analysis.run.backend or "?")}
backend · {esc(analysis.run.started_at or "")}</p>
{banner}
<p><span class="badge" style="background:{colour}">{esc(verdict.verdict)}</span>
{esc(verdict.reason)}</p>
<p>What grows: <b>{esc(classes)}</b></p>
{_horizon(verdict)}
{f"<p>The load {esc(analysis.run.stopped)}.</p>" if analysis.run.stopped else ""}
{notes}
{_figures(analysis)}
<h2>Pre-production checklist</h2>
{_checklist(analysis)}
<h2>Plots</h2>
{"".join(image(plot, path) for plot, path in plots) or "<p class='muted'>No samples.</p>"}
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
