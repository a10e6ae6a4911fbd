"""The terminal's report of one run: the verdict with its figures, the series table, leak
suspects, native stacks, the allocator diagnosis and the checklist. A format like the others,
rendered from the same Analysis, so what `analyze` prints cannot disagree with report.html."""

from __future__ import annotations

from pathlib import Path

from harness.analyze.allocator import SERIES, Diagnosis
from harness.analyze.analysis import Analysis
from harness.analyze.memray import MemrayReport
from harness.analyze.suspects import Suspect
from harness.analyze.verdict import Verdict
from harness.units import MIB


def verdict_lines(verdict: Verdict, run_dir: Path) -> list[str]:
    lines = [f"run {run_dir.name}: {verdict.verdict} - {verdict.reason}"]
    if verdict.bytes_per_request is not None and verdict.interval is not None:
        low, high = verdict.interval
        lines.append(
            f"  {verdict.deciding_series}: {verdict.bytes_per_request:,.0f} B/request "
            f"(95% CI {low:,.0f} .. {high:,.0f}) over {verdict.requests_measured:,} requests"
        )
    if verdict.growth_mb_per_hour is not None and verdict.hours_to_limit is not None:
        lines.append(
            f"  at {verdict.rules['production_rps']:.0f} req/s: "
            f"{verdict.growth_mb_per_hour:,.1f} MiB/hour, the container limit in "
            f"{verdict.hours_to_limit:,.1f} h"
        )
    if verdict.limit_question:
        lines.append(f"  the limit: {verdict.limit_question}")
    if verdict.limit_ruled_out:
        lines.append(f"  ruled out: {verdict.limit_ruled_out}")
    if verdict.classes:
        lines.append(f"  what grows: {', '.join(verdict.classes)}")
    lines.append(f"  {'series':<22} {'growth':>14} {'95% CI':>24}  judged")
    for series in verdict.series:
        t = series.trend
        if t is None:
            lines.append(f"  {series.label:<22} {'-':>14} {'':>24}  {series.reason}")
            continue
        interval = f"{t['low']:,.2f} .. {t['high']:,.2f}"
        judged = f"{'LEAK: ' if series.leaking else ''}{series.reason}"
        lines.append(f"  {series.label:<22} {t['slope']:>14,.2f} {interval:>24}  {judged}")
    return lines


def suspect_lines(suspects: list[Suspect], basis: str, top: int = 5) -> list[str]:
    if not suspects:
        return [f"  leak suspects: none ({basis})"]
    lines = [f"  leak suspects ({basis}):"]
    for suspect in suspects[:top]:
        rate = (
            f"{suspect.bytes_per_request:,.0f} B/request"
            if suspect.bytes_per_request is not None
            else "?"
        )
        steady = "" if suspect.grew_every_time else "  (did not grow at every snapshot)"
        lines.append(
            f"    {rate:>16}  +{suspect.size_growth / MIB:,.2f} MiB  {suspect.site}{steady}"
        )
    return lines


def memray_lines(report: MemrayReport, top: int = 3) -> list[str]:
    lines = [
        f"  native stacks (memray, {report.held_bytes / MIB:,.1f} MiB held at exit, "
        f"{report.held_noise_bytes / MIB:,.1f} MiB of it imports and profilers):"
    ]
    for site in report.leaks[:top]:
        rate = f"{site.bytes_per_request:,.0f} B/request" if site.bytes_per_request else "?"
        lines.append(f"    {rate:>16}  {site.bytes / MIB:,.2f} MiB held  {site.site}")
    if report.flamegraph:
        lines.append(f"  leaks flamegraph: {report.flamegraph}")
    return lines


def diagnosis_lines(diagnosis: Diagnosis, indent: str = "  ") -> list[str]:
    """The decision, then each series' growth per request before and after each setting."""
    lines = [f"{indent}allocator diagnosis: {diagnosis.decision} - {diagnosis.reason}"]
    runs = [diagnosis.before] + [t.growth for t in diagnosis.tried if t.growth is not None]
    if len(runs) > 1:
        head = "".join(f" {run.allocator:>24}" for run in runs)
        lines.append(f"{indent}  {'B/request (95% CI)':<20}{head}")
        for name, label in SERIES.items():
            cells = [run.series.get(name) for run in runs]
            if all(cell is None for cell in cells):
                continue
            shown = "".join(
                f" {f'{c.slope:,.0f} ({c.low:,.0f}..{c.high:,.0f})' if c else '-':>24}"
                for c in cells
            )
            lines.append(f"{indent}  {label:<20}{shown}")
    for tried in diagnosis.tried:
        lines.append(f"{indent}  {tried.setting}: {tried.outcome} - {tried.reason}")
    for skipped in diagnosis.skipped:
        lines.append(f"{indent}  {skipped.setting}: skipped - {skipped.reason}")
    return lines


def render_terminal(analysis: Analysis, run_dir: Path, report: Path | None = None) -> str:
    """What `analyze` prints: the verdict first, the report's path last."""
    lines = verdict_lines(analysis.verdict, run_dir)
    if analysis.run.stopped:
        lines.append(f"  the load: {analysis.run.stopped}")
    lines += suspect_lines(analysis.suspects, analysis.suspects_basis)
    if analysis.memray is not None:
        lines += memray_lines(analysis.memray)
    if analysis.allocator is not None:
        lines += diagnosis_lines(analysis.allocator)
    lines.append("pre-production checklist:")
    lines += [f"  {i.status:<4}  {i.name:<34} {i.evidence}" for i in analysis.checklist]
    lines += [f"  note: {note}" for note in analysis.notes]
    if report is not None:
        lines.append(f"report: {report}")
    return "\n".join(lines)
