"""summary.md: short enough for a CI job summary or a pull-request comment: the verdict, the
figures that back it, the checklist, and the top suspects."""

from __future__ import annotations

from pathlib import Path

from harness.analyze.analysis import Analysis
from harness.units import MIB

SUMMARY_MD = "summary.md"
ICONS = {"PASS": "✅", "FAIL": "❌", "SKIP": "⏭️"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(run_dir: Path, analysis: Analysis, top_suspects: int = 3) -> Path:
    verdict, run, figures = analysis.verdict, analysis.run, analysis.figures
    lines = [
        f"## Memory leak test: **{verdict.verdict}** ({run.scenario}, {run.backend or '?'})",
        "",
        f"{verdict.reason}",
        "",
    ]
    if run.status != "completed":
        lines += [f"> **The run ended early: {run.status}.**", ""]
    if run.stopped:
        lines += [f"The load {run.stopped}.", ""]
    if analysis.notes:  # what was skipped of a damaged run directory, among others
        lines += [*(f"> - {_cell(note)}" for note in analysis.notes), ""]
    facts = []
    if verdict.bytes_per_request is not None and verdict.interval is not None:
        low, high = verdict.interval
        facts.append(
            f"growth **{verdict.bytes_per_request:,.0f} B/request** "
            f"(95% CI {low:,.0f} .. {high:,.0f}, {verdict.deciding_series})"
        )
    if verdict.detectable_bytes_per_request is not None:
        facts.append(
            f"smallest detectable leak {verdict.detectable_bytes_per_request:,.0f} B/request"
        )
    if verdict.hours_to_limit is not None:
        facts.append(
            f"container limit reached in **{verdict.hours_to_limit:,.1f} h** at production load"
        )
    if verdict.limit_question:
        facts.append(verdict.limit_question)
    if verdict.limit_ruled_out:
        facts.append(f"ruled out: {verdict.limit_ruled_out}")
    if verdict.classes:
        facts.append(f"what grows: {', '.join(verdict.classes)}")
    if figures.peak_bytes is not None:
        facts.append(f"peak {figures.peak_bytes / MIB:,.0f} MiB")
    facts.append(f"{figures.requests:,} requests, {figures.failures:,} failed")
    lines += [f"- {fact}" for fact in facts]
    lines += ["", "| | checklist item | evidence |", "|---|---|---|"]
    lines += [
        f"| {ICONS.get(i.status, '')} {i.status} | {_cell(i.name)} | {_cell(i.evidence)} |"
        for i in analysis.checklist
    ]
    if analysis.suspects and verdict.verdict == "LEAK":
        lines += ["", "Top leak suspects:", ""]
        for suspect in analysis.suspects[:top_suspects]:
            rate = (
                f"{suspect.bytes_per_request:,.0f} B/request"
                if suspect.bytes_per_request is not None
                else "?"
            )
            lines.append(f"- `{suspect.site}`: {rate}")
    native = analysis.memray.leaks if analysis.memray is not None else []
    if native and verdict.verdict == "LEAK":
        lines += ["", "Top native stacks still holding memory at exit (memray):", ""]
        for site in native[:top_suspects]:
            held = f"{site.bytes / MIB:,.1f} MiB held"
            rate = f", {site.bytes_per_request:,.0f} B/request" if site.bytes_per_request else ""
            lines.append(f"- `{site.site}`: {held}{rate}")
    diagnosis = analysis.allocator
    if diagnosis is not None:
        lines += ["", f"Allocator diagnosis: **{diagnosis.decision}**. {diagnosis.reason}.", ""]
        for tried in diagnosis.tried:
            lines.append(f"- `{tried.setting}`: {tried.outcome}, {tried.reason}")
        lines += [f"- `{s.setting}`: skipped, {s.reason}" for s in diagnosis.skipped]
    lines += ["", f"Run `{run.id}`, commit {run.git_commit or '-'}; full report: report.html", ""]
    path = run_dir / SUMMARY_MD
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
