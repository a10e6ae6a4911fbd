"""`leak-harness suite`: the nightly. Runs scenarios one after another, each in its own
process (harness.workflows.suite), then indexes them in <out>/suites/<id>/index.html. `--runs`
indexes existing run directories without running anything."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.commands._run_options import add_passed_on, run_option_values, run_option_words
from harness.errors import UsageError
from harness.suite.runs import Suite
from harness.workflows.suite import (
    DEFAULT_SCENARIOS,
    default_suite_text,
    entry_line,
    execute,
    existing_runs,
    index_existing,
    scenario_names,
    settled_out,
)

INDEX_HTML = "index.html"  # harness.suite.index's (imported when writing: matplotlib)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run scenarios one after another (each in its own process, judged when it ends) and "
        f"index them in <out>/suites/<id>/index.html. Default suite: {default_suite_text()}. "
        "Exit code: the worst of the runs (1 LEAK/FAIL/target died, then 3/2 a run could not "
        "start, then 4 INCONCLUSIVE, 0 all passed); 130 interrupted."
    )
    parser.add_argument(
        "--scenarios",
        help=f"comma-separated names or .toml paths (default {','.join(DEFAULT_SCENARIOS)})",
    )
    parser.add_argument(
        "--runs",
        nargs="+",
        type=Path,
        metavar="RUN_DIR",
        help="index these existing run directories instead of running",
    )
    parser.add_argument("--out", type=Path, help="where runs and suites land (default reports/)")
    parser.add_argument("--json", action="store_true", help="print suite.json")
    parser.add_argument("-q", "--quiet", action="store_true", help="print the index path only")
    add_passed_on(parser)


def report(suite: Suite, as_json: bool, quiet: bool) -> None:
    index = suite.path / INDEX_HTML
    if as_json:
        print(json.dumps({**suite.to_json(), "index": str(index)}, indent=2))
        return
    if not quiet:
        for entry in suite.entries:
            print(f"  {entry_line(entry)}")
        for name in suite.missing:
            print(f"  {name}: not run")
        print(f"suite exit code {suite.exit_code}")
    print(f"index: {index}")


def main(args: argparse.Namespace) -> int:
    given = run_option_words(args)
    if args.runs:
        if args.scenarios or given:
            raise UsageError(
                "--runs indexes existing runs: --scenarios and run options do not apply"
            )
        dirs = existing_runs(args.runs)
        out = (args.out or Path("reports")).resolve()
        suite = index_existing(dirs, out)
    else:
        names = scenario_names(args.scenarios)
        out = settled_out(run_option_values(args), args.out, args.config)
        suite = execute(names, out, given, args.quiet or args.json, args.prog)
    report(suite, args.json, args.quiet)
    return suite.exit_code
