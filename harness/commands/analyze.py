"""`leak-harness analyze [RUN_DIR]`: re-judge a run directory (default reports/latest) from
what it recorded, with today's rules: growth statistics and the verdict."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.analyze.analysis import Analysis, analyze, write_verdict
from harness.analyze.memray import MemrayReport
from harness.analyze.suspects import Suspect
from harness.analyze.verdict import Verdict, rules_from_run
from harness.rundir import RUN_JSON

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 4
MIB = 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", nargs="?", type=Path, default=Path("reports/latest"))
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.add_argument(
        "--leak-threshold", type=float, help="bytes/request under which growth is not a leak"
    )
    parser.add_argument("--production-rps", type=float, help="for the time to the limit")
    parser.add_argument(
        "--inconclusive-ok", action="store_true", help="exit 0 instead of 4 on INCONCLUSIVE"
    )
    parser.add_argument(
        "--no-report",
        action="store_true",
        help="write verdict.json only (no report.html, summary.md, junit.xml, plots)",
    )
    parser.add_argument(
        "--no-history",
        action="store_true",
        help="do not append the run to <out>/history.sqlite (the run is under <out>/runs/)",
    )


def _print(verdict: Verdict, run_dir: Path) -> None:
    print(f"run {run_dir.name}: {verdict.verdict} - {verdict.reason}")
    if verdict.bytes_per_request is not None and verdict.interval is not None:
        low, high = verdict.interval
        print(
            f"  {verdict.deciding_series}: {verdict.bytes_per_request:,.0f} B/request "
            f"(95% CI {low:,.0f} .. {high:,.0f}) over {verdict.requests_measured:,} requests"
        )
    if verdict.growth_mb_per_hour is not None and verdict.hours_to_limit is not None:
        print(
            f"  at {verdict.rules['production_rps']:.0f} req/s: "
            f"{verdict.growth_mb_per_hour:,.1f} MiB/hour, the container limit in "
            f"{verdict.hours_to_limit:,.1f} h"
        )
    if verdict.classes:
        print(f"  what grows: {', '.join(verdict.classes)}")
    print(f"  {'series':<22} {'growth':>14} {'95% CI':>24}  judged")
    for series in verdict.series:
        t = series.trend
        if t is None:
            print(f"  {series.label:<22} {'-':>14} {'':>24}  {series.reason}")
            continue
        interval = f"{t['low']:,.2f} .. {t['high']:,.2f}"
        judged = f"{'LEAK: ' if series.leaking else ''}{series.reason}"
        print(f"  {series.label:<22} {t['slope']:>14,.2f} {interval:>24}  {judged}")


def _print_suspects(suspects: list[Suspect], basis: str, top: int = 5) -> None:
    if not suspects:
        print(f"  leak suspects: none ({basis})")
        return
    print(f"  leak suspects ({basis}):")
    for suspect in suspects[:top]:
        rate = (
            f"{suspect.bytes_per_request:,.0f} B/request"
            if suspect.bytes_per_request is not None
            else "?"
        )
        steady = "" if suspect.grew_every_time else "  (did not grow at every snapshot)"
        print(f"    {rate:>16}  +{suspect.size_growth / MIB:,.2f} MiB  {suspect.site}{steady}")


def _print_memray(report: MemrayReport, top: int = 3) -> None:
    print(
        f"  native stacks (memray, {report.held_bytes / MIB:,.1f} MiB held at exit, "
        f"{report.held_noise_bytes / MIB:,.1f} MiB of it imports and profilers):"
    )
    for site in report.leaks[:top]:
        rate = f"{site.bytes_per_request:,.0f} B/request" if site.bytes_per_request else "?"
        print(f"    {rate:>16}  {site.bytes / MIB:,.2f} MiB held  {site.site}")
    if report.flamegraph:
        print(f"  leaks flamegraph: {report.flamegraph}")


def _render(run_dir: Path, analysis: Analysis) -> Path | None:
    from harness.report.render import render_reports  # matplotlib: only when drawing

    try:
        return render_reports(run_dir, analysis)[0]
    except Exception as exc:  # the verdict stands even when a plot cannot be drawn
        print(f"leak-harness analyze: reports not rendered: {exc!r}", file=sys.stderr)
        return None


def _append_history(run_dir: Path, analysis: Analysis) -> None:
    """Runs under <out>/runs/<id> join <out>/history.sqlite (nightly runs trend on their own);
    a history that cannot be written costs a warning, never the verdict."""
    from harness.report.history import History, HistoryError, history_path_for

    path = history_path_for(run_dir)
    if path is not None:
        try:
            History(path).record(analysis.to_json(), run_dir)
        except (HistoryError, OSError) as exc:
            print(f"leak-harness analyze: history not updated: {exc}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    if not (run_dir / RUN_JSON).is_file():
        print(
            f"leak-harness analyze: {run_dir} is not a run directory (no {RUN_JSON}); "
            "give the path of one under reports/runs/",
            file=sys.stderr,
        )
        return EXIT_USAGE
    run_dir = run_dir.resolve()
    rules = rules_from_run(
        run_dir, leak_bytes_per_request=args.leak_threshold, production_rps=args.production_rps
    )
    analysis = analyze(run_dir, rules)
    write_verdict(run_dir, analysis)
    if not args.no_history:
        _append_history(run_dir, analysis)
    report = None if args.no_report else _render(run_dir, analysis)
    if args.json:
        print(json.dumps(analysis.to_json(), indent=2))
    else:
        _print(analysis.verdict, run_dir)
        _print_suspects(analysis.suspects, analysis.suspects_basis)
        if analysis.memray is not None:
            _print_memray(analysis.memray)
        if analysis.allocator is not None:
            from harness.commands.diagnose_allocator import print_diagnosis

            print_diagnosis(analysis.allocator)
        print("pre-production checklist:")
        for item in analysis.checklist:
            print(f"  {item.status:<4}  {item.name:<34} {item.evidence}")
        for note in analysis.notes:
            print(f"  note: {note}")
        if report is not None:
            print(f"report: {report}")
    if not analysis.passed:
        return EXIT_FAIL
    if analysis.inconclusive and not args.inconclusive_ok:
        return EXIT_INCONCLUSIVE
    return EXIT_PASS
