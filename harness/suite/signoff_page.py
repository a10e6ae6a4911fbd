"""The sign-off page, for the release owner: GO / NO-GO first with every reason and the rule
behind it, then each run's verdict, the comparison with the previous signed-off release, and
every checklist item of every run with its evidence. signoff.html (self-contained, links
relative), signoff.md (for the release ticket) and signoff.json, in <out>/signoff/<version>/."""

from __future__ import annotations

import json
from pathlib import Path

from harness.report.page import (
    GREEN,
    GREY,
    RED,
    badge,
    esc,
    page,
    status_badge,
    table,
    verdict_badge,
)
from harness.suite.index import INDEX_HTML, entry_cells, href, md_cell, run_links
from harness.suite.runs import checklist_text
from harness.suite.signoff import GO, SignOff
from harness.units import mib

SIGNOFF_DIR = "signoff"
SIGNOFF_HTML = "signoff.html"
SIGNOFF_MD = "signoff.md"
SIGNOFF_JSON = "signoff.json"
DECISION_COLOURS = {GO: GREEN}
EXTRA_STYLE = ".decision{font-size:1.6em;padding:10px 24px}ul.reasons li{margin:4px 0}"


def _runs_html(signoff: SignOff, base: Path) -> str:
    rows = [entry_cells(e, base) for e in signoff.entries]
    rows += [[f"<b>{esc(n)}</b>", "-", "not run", "", "", "", "", ""] for n in signoff.missing]
    headers = ["scenario", "run", "status", "verdict", "checklist", "startup", "peak", "reports"]
    return table(headers, rows)


def _previous_html(signoff: SignOff) -> str:
    previous = signoff.previous
    notes = "".join(f"<li>{esc(n)}</li>" for n in previous.notes)
    notes_html = f"<ul class='muted'>{notes}</ul>" if notes else ""
    if previous.version is None:
        return f"<p>No previous sign-off to compare with.</p>{notes_html}"
    rows = [
        [
            f"<b>{esc(c.scenario)}</b>",
            esc(", ".join(c.previous_runs)),
            esc(", ".join(c.current_runs)),
            badge(c.words, RED if c.leaks_more else GREY),
            esc(c.reason),
        ]
        for c in previous.changes
    ]
    headers = ["scenario", f"{previous.version} run", f"{signoff.version} run", "", "why"]
    compared = table(headers, rows) if rows else "<p>No scenario in common.</p>"
    return (
        f"<p>Previous signed-off release: <b>{esc(previous.version)}</b> (signed "
        f"{esc(previous.signed_at or '-')}). Growth per request of each memory series, this "
        "release against that one (95% interval of the difference; see "
        "<code>leak-harness compare</code>).</p>"
        f"{compared}{notes_html}"
    )


def _checklists_html(signoff: SignOff) -> str:
    parts = []
    for entry in signoff.entries:
        title = f"{esc(entry.label)} <span class='muted'>{esc(entry.run_id)}</span>"
        if not entry.checklist:
            why = entry.error or "no checklist (the run was not judged)"
            parts.append(f"<h3>{title}</h3><p class='muted'>{esc(why)}</p>")
            continue
        rows = [
            [status_badge(str(i.get("status"))), esc(i.get("name")), esc(i.get("evidence"))]
            for i in entry.checklist
        ]
        verdict = f"{verdict_badge(entry.verdict)} {esc((entry.analysis or {}).get('reason'))}"
        parts.append(f"<h3>{title}</h3><p>{verdict}</p>{table(['', 'item', 'evidence'], rows)}")
    return "".join(parts)


def render_html(signoff: SignOff, out: Path, suite_dir: Path | None) -> Path:
    colour = DECISION_COLOURS.get(signoff.decision, RED)
    reasons = "".join(f"<li>{esc(r)}</li>" for r in signoff.reasons)
    suite = (
        f" · <a href='{href(suite_dir / INDEX_HTML, out)}'>suite index</a>"
        if suite_dir is not None and (suite_dir / INDEX_HTML).is_file()
        else ""
    )
    body = f"""
<main>
<h1>Release sign-off: {esc(signoff.version)}</h1>
<p class="muted">memory-leak tests and the pre-production checklist · {esc(signoff.created_at)}
{suite}</p>
<p><span class="badge decision" style="background:{colour}">{esc(signoff.decision)}</span></p>
<ul class="reasons">{reasons}</ul>
<p class="muted">Rule: {esc(signoff.rule)}</p>
<h2>Runs</h2>
{_runs_html(signoff, out)}
<h2>Against the previous signed-off release</h2>
{_previous_html(signoff)}
<h2>Pre-production checklist, run by run</h2>
{_checklists_html(signoff)}
<p class="muted">Files: <a href='{SIGNOFF_MD}'>{SIGNOFF_MD}</a> ·
<a href='{SIGNOFF_JSON}'>{SIGNOFF_JSON}</a></p>
</main>"""
    title = f"{signoff.decision}: sign-off {signoff.version}"
    path = out / SIGNOFF_HTML
    path.write_text(page(title, body, EXTRA_STYLE), encoding="utf-8")
    return path


def render_markdown(signoff: SignOff, out: Path) -> Path:
    lines = [f"# Release sign-off {signoff.version}: **{signoff.decision}**", ""]
    lines += [f"- {r}" for r in signoff.reasons]
    lines += ["", f"_Rule: {signoff.rule}_", "", "## Runs", ""]
    lines += ["| scenario | run | status | verdict | checklist | peak | reports |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for e in signoff.entries:
        links = " · ".join(f"[{n}]({link})" for n, link in run_links(e, out)) or "-"
        verdict = f"**{e.verdict or 'no verdict'}** {(e.analysis or {}).get('reason') or ''}"
        cells = [e.label, e.run_id, e.status, verdict.strip(), checklist_text(e)]
        lines.append(
            "| "
            + " | ".join(md_cell(c) for c in [*cells, mib(e.figure("peak_bytes")), links])
            + " |"
        )
    lines += [f"| {md_cell(n)} | - | not run | | | | |" for n in signoff.missing]
    previous = signoff.previous
    lines += ["", "## Against the previous signed-off release", ""]
    if previous.version is None:
        lines.append("No previous sign-off to compare with.")
    else:
        lines += [f"Previous: **{previous.version}** (signed {previous.signed_at}).", ""]
        lines += ["| scenario | result | why |", "|---|---|---|"]
        lines += [
            f"| {md_cell(c.scenario)} | **{c.words}** | {md_cell(c.reason)} |"
            for c in previous.changes
        ]
    lines += [""] + [f"- note: {n}" for n in previous.notes]
    lines += ["", "## Pre-production checklist, run by run"]
    for e in signoff.entries:
        lines += ["", f"### {e.label} ({e.run_id}): {e.verdict or 'no verdict'}", ""]
        if not e.checklist:
            lines.append(e.error or "no checklist (the run was not judged)")
            continue
        lines += ["| | item | evidence |", "|---|---|---|"]
        lines += [
            f"| {i.get('status')} | {md_cell(i.get('name'))} | {md_cell(i.get('evidence'))} |"
            for i in e.checklist
        ]
    lines += ["", f"Signed off {signoff.created_at}.", ""]
    path = out / SIGNOFF_MD
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_signoff(signoff: SignOff, out: Path, suite_dir: Path | None) -> Path:
    """signoff.json, signoff.md and signoff.html (returned) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    document = {**signoff.to_json(out), "suite": str(suite_dir) if suite_dir else None}
    (out / SIGNOFF_JSON).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    render_markdown(signoff, out)
    return render_html(signoff, out, suite_dir)
