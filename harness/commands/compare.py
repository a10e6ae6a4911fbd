"""`leak-harness compare A B`: the pull-request check. Did build B (the branch) introduce a
leak that build A (main) does not have, running the same scenario?

A and B are run directories, or several separated by commas (`A1,A2 B1,B2`: repeated runs of
one build, best run alternating A, B, A, B so that drift of the machine hits both), pooled per
side by `harness.compare.comparison.pool`. Each run is judged from its verdict.json, or in
memory by today's analysis when that file is missing or older than samples.csv (nothing is
written into the run, and the history is not touched)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from harness.analyze.analysis import NotAnalyzable, load_or_analyze
from harness.compare.comparison import (
    B_MORE,
    SERIES_ORDER,
    Comparison,
    compare,
    growths,
    pool,
)
from harness.errors import UsageError
from harness.exit_codes import ExitCode
from harness.rundir import RUN_JSON, SAMPLES_CSV


def add_arguments(parser: argparse.ArgumentParser) -> None:
    runs = "run directory, or several separated by commas (repeated runs, pooled)"
    parser.add_argument("a", metavar="A", help=f"the baseline (main): {runs}")
    parser.add_argument("b", metavar="B", help=f"the candidate (the change): {runs}")
    parser.add_argument(
        "--threshold",
        type=float,
        metavar="B_PER_REQUEST",
        help="smallest difference in growth that counts (default: B's leak_bytes_per_request)",
    )
    parser.add_argument(
        "--series", choices=SERIES_ORDER, help="compare this memory series only (default: all)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where comparison.md, .json and .png go (default: the first B run directory)",
    )
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="print the verdict line only")


def _run_dirs(argument: str, side: str) -> list[Path]:
    parts = [p for p in argument.split(",") if p.strip()]
    if not parts:
        raise UsageError(f"{side}: no run directory given")
    return [Path(p.strip()) for p in parts]


def load_analysis(run_dir: Path) -> dict[str, Any]:
    """The run's analysis (verdict.json when fresh, else judged in memory now), one that
    judged at least one memory series."""
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run directory")
    if not (run_dir / RUN_JSON).is_file():
        raise UsageError(f"{run_dir} is not a run directory (no {RUN_JSON})")
    if not (run_dir / SAMPLES_CSV).is_file():
        raise UsageError(f"{run_dir} has no {SAMPLES_CSV}: the run recorded nothing")
    try:
        document = load_or_analyze(run_dir)
    except NotAnalyzable as exc:
        raise UsageError(str(exc)) from exc
    if not growths(document):
        raise UsageError(
            f"{run_dir}: no memory series could be judged (too few samples in its load phases)"
        )
    return document


def _side(name: str, argument: str) -> tuple[list[Path], list[dict[str, Any]]]:
    dirs = [d.resolve() for d in _run_dirs(argument, name)]
    repeated = next((d for i, d in enumerate(dirs) if d in dirs[:i]), None)
    if repeated is not None:
        raise UsageError(f"{name}: {repeated} is given twice (it would count twice)")
    return dirs, [load_analysis(d) for d in dirs]


def _interleaving_note(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> str | None:
    """Repeated runs that were not interleaved in time: drift would pass for a difference."""
    if len(a) + len(b) < 3:
        return None
    starts = [[str((d.get("run") or {}).get("started_at") or "") for d in side] for side in (a, b)]
    if not all(all(starts_of) for starts_of in starts):
        return None
    if max(starts[0]) < min(starts[1]) or max(starts[1]) < min(starts[0]):
        return "the runs of A and B were not interleaved in time: drift may look like a difference"
    return None


def _print(comparison: Comparison, a_count: int, b_count: int) -> None:
    from harness.compare.report import (
        FIGURE_NAMES,
        figure_text,
        plus_minus,
        signed_interval,
    )

    print(f"  A: {comparison.a_id} ({a_count} run{'s' * (a_count > 1)})")
    print(f"  B: {comparison.b_id} ({b_count} run{'s' * (b_count > 1)})")
    print(f"  {'series':<20} {'A B/request':>16} {'B B/request':>16}  {'B - A (95% CI)':<28}")
    for d in comparison.series:
        mark = "  <- decides" if d.series == comparison.deciding_series else ""
        print(
            f"  {d.label:<20} {plus_minus(d.a):>16} {plus_minus(d.b):>16}  "
            f"{signed_interval(d.difference, d.low, d.high):<28}{mark}"
        )
    print(f"  threshold {comparison.threshold:,.0f} B/request")
    for figure in comparison.figures:
        shown_a, shown_b, delta = figure_text(figure)
        name = FIGURE_NAMES.get(figure.name, figure.name)
        print(f"  {name:<20} {shown_a:>16} {shown_b:>16}  {delta}")
    for note in comparison.notes:
        print(f"  note: {note}")


def main(args: argparse.Namespace) -> int:
    if args.threshold is not None and not (math.isfinite(args.threshold) and args.threshold >= 0):
        raise UsageError(f"--threshold must be a number of bytes >= 0, not {args.threshold}")
    a_dirs, a_runs = _side("A", args.a)
    b_dirs, b_runs = _side("B", args.b)
    try:
        comparison = compare(pool(a_runs), pool(b_runs), args.threshold, args.series)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    note = _interleaving_note(a_runs, b_runs)
    if note:
        comparison.notes.append(note)
    out: Path = args.out if args.out is not None else b_dirs[0]
    written = _write(out, comparison, a_dirs, a_runs, b_dirs, b_runs, args.prog)
    code = ExitCode.FAIL if comparison.verdict == B_MORE else ExitCode.OK
    if args.json:
        from harness.compare.report import Side, comparison_json

        document = comparison_json(comparison, Side("A", a_dirs, a_runs), Side("B", b_dirs, b_runs))
        print(json.dumps({**document, "exit_code": code}, indent=2))
        return code
    print(f"{comparison.verdict} - {comparison.reason}")
    if not args.quiet:
        _print(comparison, len(a_dirs), len(b_dirs))
        if written:
            print(f"comparison: {written}")
    return code


def _write(
    out: Path,
    comparison: Comparison,
    a_dirs: list[Path],
    a_runs: list[dict[str, Any]],
    b_dirs: list[Path],
    b_runs: list[dict[str, Any]],
    prog: str,
) -> Path | None:
    """The files for the pull request; the verdict stands when they cannot be drawn."""
    from harness.compare.report import COMPARISON_MD, Side, curve, write_reports

    a, b = Side("A", a_dirs, a_runs), Side("B", b_dirs, b_runs)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot be created ({exc.strerror})") from exc
    try:
        curves = []
        for side in (a, b):
            for run_id, (analysis, run_dir) in zip(side.run_ids, side.pairs, strict=True):
                series = comparison.deciding_series or ""
                found = curve(side.name, run_id, run_dir, analysis, series)
                if found is not None:
                    curves.append(found)
        write_reports(out, comparison, a, b, curves)
    except Exception as exc:  # a report that cannot be drawn must not cost the verdict
        print(f"{prog}: reports not written: {exc!r}", file=sys.stderr)
        return None
    return out / COMPARISON_MD
