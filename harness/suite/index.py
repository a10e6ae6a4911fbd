"""The suite index: one page over the runs of a suite (the nightly's scenarios, one after
another), so whoever reads the nightly sees every scenario's verdict and checklist at a
glance and clicks through to each run's own report. Written as index.html (self-contained,
links relative so the reports directory can be copied as a whole), index.md (a CI job
summary) and suite.json (for `leak-harness signoff --suite` and scripts)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from harness.analyze.analysis import VERDICT_JSON
from harness.exit_codes import ExitCode
from harness.report.html import REPORT_HTML
from harness.report.markdown import SUMMARY_MD
from harness.report.page import GREEN, ORANGE, RED, esc, page, table, verdict_badge
from harness.suite.runs import (
    SUITE_JSON,
    Suite,
    SuiteEntry,
    checklist_text,
    relative,
)
from harness.units import mib

INDEX_HTML = "index.html"
INDEX_MD = "index.md"


def href(target: Path, base: Path) -> str:
    return quote(relative(target, base).replace(os.sep, "/"))


def run_links(entry: SuiteEntry, base: Path) -> list[tuple[str, str]]:
    """(name, relative link) of the run's report files that exist."""
    if entry.run_dir is None:
        return []
    names = (REPORT_HTML, SUMMARY_MD, VERDICT_JSON)
    return [(n, href(entry.run_dir / n, base)) for n in names if (entry.run_dir / n).is_file()]


def _outcome(suite: Suite) -> tuple[str, str]:
    """The suite's headline and its colour."""
    code = suite.exit_code
    if code in (ExitCode.INTERRUPTED, ExitCode.TERMINATED, ExitCode.BROKEN_PIPE):
        return "INTERRUPTED", ORANGE
    if code == ExitCode.FAIL:
        return "LEAK OR FAIL", RED
    if code in (ExitCode.USAGE, ExitCode.INFRA):
        return "RUN FAILED TO START", RED
    if code == ExitCode.INTERNAL:
        return "HARNESS ERROR", RED
    if code == ExitCode.INCONCLUSIVE:
        return "INCONCLUSIVE", ORANGE
    return "ALL PASS", GREEN


def entry_cells(entry: SuiteEntry, base: Path) -> list[str]:
    """scenario, run, status, verdict with its reason, checklist, startup, peak, report links:
    one run as the suite index and the sign-off page both show it."""
    links = " · ".join(f"<a href='{link}'>{esc(name)}</a>" for name, link in run_links(entry, base))
    reason = esc((entry.analysis or {}).get("reason") or entry.error or "")
    return [
        f"<b>{esc(entry.label)}</b>",
        esc(entry.run_id),
        esc(entry.status),
        f"{verdict_badge(entry.verdict)} {reason}",
        esc(checklist_text(entry)),
        mib(entry.figure("startup_bytes")),
        mib(entry.figure("peak_bytes")),
        links or "<span class='muted'>no report</span>",
    ]


def _html_rows(suite: Suite) -> list[list[str]]:
    rows = []
    for number, entry in enumerate(suite.entries, 1):
        *cells, links = entry_cells(entry, suite.path)
        rows.append([str(number), *cells, str(entry.exit_code), links])
    for name in suite.missing:
        why = "the suite was interrupted" if suite.interrupted else "the suite stopped"
        rows.append(["-", f"<b>{esc(name)}</b>", "-", "not run", esc(why), "-", "-", "-", "-", ""])
    return rows


def render_index_html(suite: Suite) -> Path:
    headline, colour = _outcome(suite)
    options = " ".join(suite.options) or "none"
    rows = _html_rows(suite)
    headers = [
        "#",
        "scenario",
        "run",
        "status",
        "verdict",
        "checklist",
        "startup",
        "peak",
        "exit",
        "reports",
    ]
    body = f"""
<main>
<h1>Memory leak suite {esc(suite.id)}</h1>
<p class="muted">started {esc(suite.started_at)} · finished {esc(suite.finished_at or "-")} ·
scenarios {esc(", ".join(suite.scenarios))} · run options: <code>{esc(options)}</code></p>
<p><span class="badge" style="background:{colour}">{esc(headline)}</span>
exit code {suite.exit_code} (the worst of the runs: 1 LEAK/FAIL/target died, 3 or 2 a run could
not start, 4 INCONCLUSIVE, 0 NO LEAK with the checklist passed)</p>
{table(headers, rows)}
<p class="muted">Files: <a href='{SUITE_JSON}'>{SUITE_JSON}</a> ·
<a href='{INDEX_MD}'>{INDEX_MD}</a></p>
</main>"""
    path = suite.path / INDEX_HTML
    path.write_text(page(f"{headline}: suite {suite.id}", body), encoding="utf-8")
    return path


def md_cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_index_md(suite: Suite) -> Path:
    headline, _ = _outcome(suite)
    lines = [
        f"## Memory leak suite {suite.id}: **{headline}** (exit {suite.exit_code})",
        "",
        "| scenario | status | verdict | checklist | startup | peak | reports |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in suite.entries:
        links = " · ".join(f"[{name}]({link})" for name, link in run_links(entry, suite.path))
        reason = (entry.analysis or {}).get("reason") or entry.error or ""
        verdict = f"**{entry.verdict or 'no verdict'}** {reason}".strip()
        cells = [
            entry.label,
            entry.status,
            verdict,
            checklist_text(entry),
            mib(entry.figure("startup_bytes")),
            mib(entry.figure("peak_bytes")),
            links or "-",
        ]
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    for name in suite.missing:
        lines.append(f"| {md_cell(name)} | not run | | | | | |")
    lines += ["", f"Started {suite.started_at}, finished {suite.finished_at or '-'}.", ""]
    path = suite.path / INDEX_MD
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_index(suite: Suite) -> Path:
    """suite.json, index.md and index.html (returned): rewritten after every run, so a suite
    stopped half-way still has an index of what it did."""
    document = json.dumps(suite.to_json(), indent=2) + "\n"
    (suite.path / SUITE_JSON).write_text(document, encoding="utf-8")
    render_index_md(suite)
    return render_index_html(suite)
