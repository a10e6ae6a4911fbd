"""`leak-harness signoff --version X`: the release sign-off. Takes the full suite's runs (a
suite directory, run directories, or runs the suite now), decides GO / NO-GO by the rule in
`harness.suite.signoff`, compares each scenario with the previous signed-off release from
the history, writes <out>/signoff/<version>/signoff.html, .md and .json, and records the runs
in the history as kind "signoff" with the version, so the next release compares with them."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from harness.commands._run_options import add_passed_on, run_option_values, run_option_words
from harness.errors import UsageError
from harness.exit_codes import ExitCode
from harness.history.store import HISTORY_FILE, History, HistoryError
from harness.suite.runs import SuiteEntry, checklist_text, entry_for_run, read_suite
from harness.suite.signoff import RULE, SignOff, decide, find_previous
from harness.workflows.suite import (
    DEFAULT_SCENARIOS,
    default_suite_text,
    execute,
    existing_runs,
    scenario_names,
    settled_out,
)

VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")


class Abandoned(Exception):
    """The suite run for the sign-off was interrupted: there is nothing to sign."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Release sign-off: GO / NO-GO from the full suite's runs, with every checklist item, "
        "the evidence and the comparison with the previous signed-off release. "
        f"{RULE} Without --suite or --runs it runs the suite first ({default_suite_text()}). "
        "Exit code: 0 GO, 1 NO-GO, 2 usage, 130 interrupted."
    )
    parser.add_argument("--version", required=True, dest="release", help="the release, e.g. 1.4.0")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--suite", type=Path, metavar="SUITE_DIR", help="a suite's directory")
    source.add_argument("--runs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories")
    parser.add_argument(
        "--scenarios",
        help=f"when running the suite (default {','.join(DEFAULT_SCENARIOS)})",
    )
    parser.add_argument("--out", type=Path, help="where runs and sign-offs land (default reports/)")
    parser.add_argument("--history", type=Path, help="history file (default <out>/history.sqlite)")
    parser.add_argument("--json", action="store_true", help="print signoff.json")
    parser.add_argument("-q", "--quiet", action="store_true", help="print the decision only")
    add_passed_on(parser)


def _gather(args: argparse.Namespace) -> tuple[list[SuiteEntry], list[str], Path | None, Path]:
    """The runs, the scenarios that did not run, the suite directory, and <out>."""
    if (args.suite or args.runs) and (args.scenarios or run_option_words(args)):
        raise UsageError("--scenarios and run options only apply when the suite is run here")
    out = settled_out(run_option_values(args), args.out, args.config)
    if args.suite is not None:
        suite = read_suite(args.suite)
        return suite.entries, suite.missing, args.suite.resolve(), out
    if args.runs:
        return [entry_for_run(d) for d in existing_runs(args.runs)], [], None, out
    names = scenario_names(args.scenarios)
    suite = execute(names, out, run_option_words(args), args.quiet or args.json, args.prog)
    if suite.interrupted:
        raise Abandoned(suite.path)
    return suite.entries, suite.missing, suite.path, out


def _record(history: History, signoff: SignOff, prog: str) -> None:
    """Each run joins the history as this version's sign-off; a history that cannot be
    written costs a warning, never the decision."""
    for entry in signoff.entries:
        if entry.analysis is None or entry.run_dir is None:
            continue
        try:
            history.record(entry.analysis, entry.run_dir, kind="signoff", version=signoff.version)
        except (HistoryError, OSError) as exc:
            print(f"{prog}: history not updated: {exc}", file=sys.stderr)
            return


def _print(signoff: SignOff, page: Path, quiet: bool) -> None:
    print(f"sign-off {signoff.version}: {signoff.decision}")
    if quiet:
        return
    for reason in signoff.reasons:
        print(f"  - {reason}")
    print("runs:")
    for entry in signoff.entries:
        print(
            f"  {entry.label:<12} {entry.status:<11} {entry.verdict or 'no verdict':<13} "
            f"checklist {checklist_text(entry)}"
        )
    previous = signoff.previous
    if previous.version is None:
        print("previous sign-off: none")
    else:
        print(f"previous sign-off: {previous.version}")
        for change in previous.changes:
            print(f"  {change.scenario:<12} {change.words}: {change.reason}")
    for note in previous.notes:
        print(f"  note: {note}")
    print(f"sign-off page: {page}")


def _signoff(args: argparse.Namespace) -> int:
    version = str(args.release)
    if not VERSION.fullmatch(version):
        raise UsageError(
            f"--version {version!r}: use letters, digits and . _ + - (it names a directory), "
            "starting with a letter or digit, at most 64 characters"
        )
    entries, missing, suite_dir, out = _gather(args)
    history = History(args.history or out / HISTORY_FILE)
    previous = find_previous(history, version, entries)  # a HistoryError is a UsageError
    signoff = decide(version, entries, missing, previous)
    from harness.suite.signoff_page import SIGNOFF_DIR, write_signoff

    where = out / SIGNOFF_DIR / version
    page = write_signoff(signoff, where, suite_dir)
    _record(history, signoff, args.prog)
    code = ExitCode.OK if signoff.go else ExitCode.FAIL
    if args.json:
        document = json.loads((where / "signoff.json").read_text(encoding="utf-8"))
        print(json.dumps({**document, "page": str(page), "exit_code": code}, indent=2))
    else:
        _print(signoff, page, args.quiet)
    return code


def main(args: argparse.Namespace) -> int:
    try:
        return _signoff(args)
    except Abandoned as exc:
        print(
            f"{args.prog}: the suite was interrupted, nothing signed off (what ran: {exc})",
            file=sys.stderr,
        )
        return ExitCode.INTERRUPTED
