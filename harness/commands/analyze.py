"""`leak-harness analyze [RUN_DIR]`: re-judge a run directory (default reports/latest) from
what it recorded, with today's rules: growth statistics and the verdict."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.analyze.verdict import rules_from_run
from harness.errors import UsageError
from harness.report.terminal import render_terminal
from harness.rundir import RUN_JSON
from harness.workflows.judge import judge_run


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


def main(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    if not (run_dir / RUN_JSON).is_file():
        raise UsageError(
            f"{run_dir} is not a run directory (no {RUN_JSON}); "
            "give the path of one under reports/runs/"
        )
    run_dir = run_dir.resolve()
    rules = rules_from_run(
        run_dir, leak_bytes_per_request=args.leak_threshold, production_rps=args.production_rps
    )

    def warn(message: str) -> None:
        print(f"{args.prog}: {message}", file=sys.stderr)

    judged = judge_run(
        run_dir, rules, report=not args.no_report, history=not args.no_history, warn=warn
    )
    if judged.infrastructure is not None:  # the one line a CI log needs, beside the report
        warn(judged.infrastructure)
    if args.json:
        print(json.dumps(judged.analysis.to_json(), indent=2))
    else:
        print(render_terminal(judged.analysis, run_dir, judged.report))
    return judged.exit_code(args.inconclusive_ok)
