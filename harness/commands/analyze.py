"""`leak-harness analyze [RUN_DIR]`: re-read a run directory (default reports/latest).

For now a summary of what the run recorded; leak verdicts are the analysis stage's job."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from harness.rundir import EVENTS_JSONL, RUN_JSON, SAMPLES_CSV

MIB = 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", nargs="?", type=Path, default=Path("reports/latest"))
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def summarize(run_dir: Path) -> dict[str, object]:
    meta = json.loads((run_dir / RUN_JSON).read_text(encoding="utf-8"))
    with (run_dir / SAMPLES_CSV).open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    events = (run_dir / EVENTS_JSONL).read_text(encoding="utf-8").splitlines()

    def column(name: str) -> list[float]:
        return [float(row[name]) for row in rows if row.get(name)]

    working_set = column("working_set") or column("rss")
    return {
        "run": meta.get("id"),
        "outcome": meta.get("outcome", {}).get("status"),
        "backend": (meta.get("target_backend") or {}).get("backend"),
        "samples": len(rows),
        "events": len(events),
        "requests": int(max(column("requests"), default=0)),
        "failures": int(max(column("failures"), default=0)),
        "startup_mb": round(working_set[0] / MIB, 1) if working_set else None,
        "peak_mb": round(max(column("cgroup_peak") or working_set or [0]) / MIB, 1),
        "heap_snapshots": sorted(p.name for p in (run_dir / "heap").glob("*.tracemalloc")),
    }


def run(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    if not (run_dir / RUN_JSON).is_file():
        print(
            f"leak-harness analyze: {run_dir} is not a run directory (no {RUN_JSON})",
            file=sys.stderr,
        )
        return 2
    summary = summarize(run_dir.resolve())
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            print(f"{key:>15}: {value}")
    return 0
