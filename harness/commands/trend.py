"""`leak-harness trend`: the run history (<out>/history.sqlite, appended by every `analyze` of
a run under <out>/runs/) per scenario and branch: leak rate, peak, startup memory and
throughput over the runs, regressions against the recent median and change points. Writes
<out>/trend/trend.html with its plots; exits 1 when the newest run of a group shown is
flagged, so a nightly job fails on the night things got worse, not on every night after."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.exit_codes import ExitCode
from harness.history.regression import GroupTrend, TrendRules, group_runs, group_trend
from harness.history.store import HISTORY_FILE, History, HistoryError, HistoryRow
from harness.units import MIB

TEXT_ROWS = 10  # runs per group in the text summary; trend.html has them all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=Path("reports"), help="where runs land (default reports/)"
    )
    parser.add_argument("--history", type=Path, help="history file (default <out>/history.sqlite)")
    parser.add_argument("--scenario", help="only this scenario")
    parser.add_argument("--branch", help="only this git branch")
    parser.add_argument("--last", type=int, default=30, help="runs shown per group (default 30)")
    parser.add_argument(
        "--window", type=int, help=f"runs before a run forming its baseline ({TrendRules.window})"
    )
    parser.add_argument("--k", type=float, help=f"MADs above the median flagged ({TrendRules.k})")
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="first (re)record every <out>/runs/*/verdict.json into the history",
    )
    parser.add_argument("--json", action="store_true", help="print the trend as JSON")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only groups whose newest run is flagged"
    )


def _rules(args: argparse.Namespace) -> TrendRules:
    if args.last < 1:
        raise UsageError(f"--last must be at least 1, not {args.last}")
    if args.window is not None and args.window < 1:
        raise UsageError(f"--window must be at least 1, not {args.window}")
    if args.k is not None and not args.k > 0:
        raise UsageError(f"--k must be above 0, not {args.k}")
    rules = TrendRules()
    return TrendRules(
        window=args.window if args.window is not None else rules.window,
        k=args.k if args.k is not None else rules.k,
    )


def rebuild(out: Path, history: History, prog: str) -> tuple[int, int]:
    """Record every analyzed run under <out>/runs/ (again): runs analyzed with --no-history or
    before the history existed. An unreadable verdict.json is skipped with a warning."""
    recorded = skipped = 0
    for verdict in sorted((out / "runs").glob("*/verdict.json")):
        try:
            document = json.loads(verdict.read_text(encoding="utf-8"))
            if not isinstance(document, dict):
                raise HistoryError("not a JSON object")
            history.record(document, verdict.parent.resolve())
            recorded += 1
        except (OSError, ValueError, AttributeError, TypeError) as exc:  # ValueError: JSON, row
            print(f"{prog}: skipped {verdict}: {exc}", file=sys.stderr)
            skipped += 1
    return recorded, skipped


def _order(groups: list[GroupTrend]) -> list[GroupTrend]:
    """Groups whose newest run is flagged first, then by scenario and branch."""
    return sorted(groups, key=lambda g: (not g.newest_flagged, g.scenario, g.branch or ""))


def _row_json(row: HistoryRow, trend: GroupTrend) -> dict[str, Any]:
    return {
        "id": row.id,
        "started_at": row.started_at,
        "status": row.status,
        "verdict": row.verdict,
        "leaks": list(row.leaks),
        "bytes_per_request": row.bytes_per_request,
        "interval": [row.interval_low, row.interval_high],
        "leak_threshold": row.leak_threshold,
        "peak_bytes": row.peak_bytes,
        "startup_bytes": row.startup_bytes,
        "requests_per_s": row.requests_per_s,
        "git_commit": row.git_commit,
        "run_dir": row.run_dir,
        "flags": [asdict(flag) for flag in trend.flags.get(row.id, [])],
    }


def trend_json(
    groups: list[GroupTrend],
    history: Path,
    rules: TrendRules,
    report: Path | None,
    plots: list[list[Path]],
) -> dict[str, Any]:
    return {
        "history": str(history),
        "report": str(report) if report else None,
        "rules": asdict(rules),
        "groups": [
            {
                "scenario": trend.scenario,
                "branch": trend.branch,
                "newest": trend.runs[-1].id,
                "newest_flagged": trend.newest_flagged,
                "flagged": [row.id for row in trend.runs if row.id in trend.flags],
                "change_points": [asdict(point) for point in trend.change_points],
                "plots": [str(path) for path in group_plots],
                "runs": [_row_json(row, trend) for row in trend.runs],
            }
            for trend, group_plots in zip(groups, plots, strict=True)
        ],
        "flagged": [run_id for trend in groups for run_id in trend.flags],
        "newest_flagged": [trend.runs[-1].id for trend in groups if trend.newest_flagged],
    }


def _print_group(trend: GroupTrend, quiet: bool) -> None:
    from harness.history.page import change_text, leak_text
    from harness.history.plots import run_start

    newest = trend.runs[-1]
    name = f"{trend.scenario} @ {trend.branch or 'no branch'}"
    if quiet:
        if trend.newest_flagged:
            reasons = "; ".join(flag.reason for flag in trend.flags[newest.id])
            print(f"FLAGGED {name}: run {newest.id}: {reasons}")
        return
    state = "newest run FLAGGED" if trend.newest_flagged else "newest run not flagged"
    print(f"{name}: {len(trend.runs)} runs, {len(trend.flags)} flagged, {state}")
    print(
        f"  {'':1}{'#':>3}  {'run':<34} {'started (UTC)':<16}  {'verdict':<12} "
        f"{'leak B/request (95% CI)':>26} {'peak MiB':>9} {'start MiB':>9} {'req/s':>7}"
    )
    numbered = list(enumerate(trend.runs, start=1))[-TEXT_ROWS:]
    for number, row in numbered:
        mark = "!" if row.id in trend.flags else ""
        peak = "-" if row.peak_bytes is None else f"{row.peak_bytes / MIB:,.1f}"
        start = "-" if row.startup_bytes is None else f"{row.startup_bytes / MIB:,.1f}"
        rps = "-" if row.requests_per_s is None else f"{row.requests_per_s:,.1f}"
        print(
            f"  {mark:1}{number:>3}  {row.id:<34} {run_start(row):<16}  {row.verdict:<12} "
            f"{leak_text(row):>26} {peak:>9} {start:>9} {rps:>7}"
        )
    if len(trend.runs) > TEXT_ROWS:
        print(f"  ... {len(trend.runs) - TEXT_ROWS} older runs in trend.html")
    for number, row in enumerate(trend.runs, start=1):
        for flag in trend.flags.get(row.id, []):
            print(f"  ! #{number} {row.id}: {flag.metric}: {flag.reason}")
    for point in trend.change_points:
        print(f"  change point: {change_text(point)}")


def _render(
    out: Path, groups: list[GroupTrend], history: Path, rules: TrendRules, prog: str
) -> tuple[Path | None, list[list[Path]]]:
    from harness.history.page import TREND_DIR, render_trend  # matplotlib: only here

    try:
        page, plots = render_trend(out / TREND_DIR, groups, history, rules)
    except Exception as exc:  # the flags and the exit code stand even when a plot cannot be drawn
        print(f"{prog}: trend report not rendered: {exc!r}", file=sys.stderr)
        return None, [[] for _ in groups]
    return page, [[path for _, path in group] for group in plots]


def main(args: argparse.Namespace) -> int:
    rules = _rules(args)
    out: Path = args.out
    path: Path = args.history or out / HISTORY_FILE
    history = History(path)
    if args.rebuild:
        recorded, skipped = rebuild(out, history, args.prog)
        print(f"{args.prog}: recorded {recorded} runs, skipped {skipped}", file=sys.stderr)
    if not history.exists:
        raise UsageError(
            f"no run history at {path} yet: analyze runs under {out / 'runs'} with "
            f"`leak-harness analyze`, or record the analyzed ones with `{args.prog} --rebuild`"
        )
    rows = history.runs(scenario=args.scenario, branch=args.branch)
    if not rows:
        wanted = " and ".join(
            f"{name} {value!r}"
            for name, value in (("scenario", args.scenario), ("branch", args.branch))
            if value is not None
        )
        raise UsageError(f"no runs{' for ' + wanted if wanted else ''} in the history {path}")
    groups = _order(
        [group_trend(group, rules, last=args.last) for group in group_runs(rows).values()]
    )
    page, plots = _render(out, groups, path, rules, args.prog)
    code = ExitCode.FAIL if any(trend.newest_flagged for trend in groups) else ExitCode.OK
    if args.json:
        print(json.dumps(trend_json(groups, path, rules, page, plots), indent=2))
        return code
    if not args.quiet:
        groups_text = "1 group" if len(groups) == 1 else f"{len(groups)} groups"
        print(f"history {path}: {len(rows)} runs in {groups_text} (scenario and branch)")
    for trend in groups:
        _print_group(trend, args.quiet)
    if page is not None and not args.quiet:
        print(f"report: {page}")
    return code
