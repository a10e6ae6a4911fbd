"""The fault matrix for benchmarks/RESULTS.md: every fault of test/support/faults.py injected
into a real run (the bundled service, the cgroup sandbox), one row each: outcome, exit code,
samples kept, what `analyze` says of the run directory, tracebacks and leftovers.

    python benchmarks/fault_matrix.py [--only NAME ...] [--workers N]
                                      [--out benchmarks/results/fault_matrix]

Writes NAME.jsonl (one outcome per line, the raw result) and NAME.md (the table)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "test")]

from support.faults import FAULTS, Outcome, can_mount, run_faults  # noqa: E402

MOUNTS = {"--out unwritable", "disk full"}


def table(rows: list[tuple[str, Outcome]]) -> str:
    lines = [
        "| fault | expected | outcome | exit | samples kept | analyze | tracebacks | leftovers |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for expected, row in rows:
        analyze = "-" if row.analyze_exit is None else f"{row.analyze_exit}: {row.analyze_says}"
        lines.append(
            f"| {row.fault} | {expected} | {row.status or 'no run directory'} | {row.exit_code} "
            f"| {row.samples} | {analyze.replace('|', '/')} | {row.tracebacks} "
            f"| {len(row.leftovers)} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="fault names (default: all)")
    parser.add_argument(
        "--workers", type=int, default=1, help="rows side by side (1: each row's seconds alone)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/fault_matrix")
    args = parser.parse_args()
    faults = [f for f in FAULTS if not args.only or f.name in args.only]
    for fault in faults:
        if fault.name in MOUNTS and not can_mount():
            print(f"skipped (needs root to mount a tmpfs): {fault.name}", file=sys.stderr)
    runnable = [f for f in faults if f.name not in MOUNTS or can_mount()]
    with tempfile.TemporaryDirectory(prefix="fault-matrix-") as work:
        outcomes = run_faults(runnable, Path(work), args.workers)
    rows: list[tuple[str, Outcome]] = []
    for fault in runnable:
        outcome = outcomes[fault.name]
        if isinstance(outcome, BaseException):  # the row could not be run at all
            raise outcome
        rows.append((f"{fault.status} {fault.exit_code}", outcome))
    for expected, row in rows:
        print(f"{row.fault}: {row.status} {row.exit_code} (expected {expected})", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.with_suffix(".jsonl").open("w") as raw:
        for expected, row in rows:
            raw.write(json.dumps({"expected": expected, **row.to_json()}) + "\n")
    text = table(rows)
    args.out.with_suffix(".md").write_text(text + "\n")
    print(text)
    bad = [
        r
        for e, r in rows
        if r.tracebacks or r.leftovers or e != f"{r.status or 'none'} {r.exit_code}"
    ]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
