"""Leak suspects: allocation sites whose live size grows across the run's heap snapshots,
ranked by growth per request.

The baseline is the snapshot at the end of warm-up, the comparison the last one taken under
load, so warm-up allocations (imports, pools, caches filling) are not suspects. Interpreter
and harness noise (tracemalloc itself, the import system, linecache, the heap agent) is
filtered out. A site must also grow in every load snapshot after the baseline, not just
between two, to be ranked first."""

from __future__ import annotations

import itertools
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.rundir import HEAP_DIR, read_events, read_samples

NOISE = (
    tracemalloc.__file__,
    "<frozen importlib._bootstrap",
    "<frozen importlib._bootstrap_external>",
    "<unknown>",
    "linecache.py",
    "sitecustomize.py",
    "/tracemalloc.py",
    "abc.py",
    "sre_compile.py",
    "_parser.py",
    "_compiler.py",
)


@dataclass(frozen=True)
class Suspect:
    site: str  # file:line of the innermost frame
    traceback: list[str]  # outermost first
    size_growth: int  # bytes between the baseline and the last load snapshot
    count_growth: int
    bytes_per_request: float | None
    grew_every_time: bool


def _snapshot_requests(run_dir: Path) -> dict[str, int]:
    """Requests done when each snapshot was taken (the nearest earlier sample)."""
    taken: dict[str, float] = {}
    for event in read_events(run_dir):
        if event.get("event") == "heap-snapshot" and event.get("file"):
            taken[event["file"]] = float(event["time"])
    samples = [(float(row["time"]), int(row["requests"])) for row in read_samples(run_dir)]
    result: dict[str, int] = {}
    for name, when in taken.items():
        earlier = [requests for time_, requests in samples if time_ <= when]
        result[name] = earlier[-1] if earlier else 0
    return result


def _filtered(snapshot: tracemalloc.Snapshot) -> tracemalloc.Snapshot:
    return snapshot.filter_traces([tracemalloc.Filter(False, f"*{n}*") for n in NOISE])


@dataclass(frozen=True)
class HeapGrowth:
    """The snapshots' findings: ranked suspects, what they were computed from, and the traced
    heap's growth per request between them (None without snapshots), which attributes a
    leak when the service reports no heap series of its own."""

    suspects: list[Suspect]
    basis: str
    bytes_per_request: float | None = None


def find_suspects(run_dir: Path, top: int = 10) -> HeapGrowth:
    files = sorted((run_dir / HEAP_DIR).glob("*.tracemalloc"))
    baseline = next((f for f in files if "warm-up-end" in f.name), None)
    loads = [f for f in files if "-load-" in f.name]
    if baseline is None or not loads:
        return HeapGrowth(
            [], "no heap snapshots of warm-up and load (tracemalloc off, or not a Python target)"
        )
    requests = _snapshot_requests(run_dir)
    first = _filtered(tracemalloc.Snapshot.load(str(baseline)))
    series = [_filtered(tracemalloc.Snapshot.load(str(f))) for f in loads]
    last = series[-1]
    done = requests.get(loads[-1].name, 0) - requests.get(baseline.name, 0)
    diffs = last.compare_to(first, "traceback")
    growing = [d for d in diffs if d.size_diff > 0]
    steady: set[Any] = set()
    if len(series) > 1:  # growth at every load snapshot, not only overall
        sizes = [
            {stat.traceback: stat.size for stat in snap.statistics("traceback")}
            for snap in [first, *series]
        ]
        for diff in growing:
            trail = [size.get(diff.traceback, 0) for size in sizes]
            if all(b > a for a, b in itertools.pairwise(trail)):
                steady.add(diff.traceback)
    else:
        steady = {diff.traceback for diff in growing}
    growing.sort(key=lambda d: (d.traceback in steady, d.size_diff), reverse=True)
    suspects = []
    for diff in growing[:top]:
        frames = [f"{frame.filename}:{frame.lineno}" for frame in diff.traceback]
        suspects.append(
            Suspect(
                site=frames[-1] if frames else "?",  # tracemalloc lists the innermost last
                traceback=frames,
                size_growth=diff.size_diff,
                count_growth=diff.count_diff,
                bytes_per_request=diff.size_diff / done if done > 0 else None,
                grew_every_time=diff.traceback in steady,
            )
        )
    note = f"{baseline.name} -> {loads[-1].name}, {done} requests apart"
    traced = sum(trace.size for trace in last.traces) - sum(trace.size for trace in first.traces)
    return HeapGrowth(suspects, note, traced / done if done > 0 else None)
