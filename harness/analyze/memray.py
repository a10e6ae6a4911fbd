"""What a memray capture says about a run: the stacks still holding memory when the target
exited (native leak suspects), the stacks holding memory at its peak, and a leaks flamegraph.

Every allocation site memray recorded is grouped by the innermost Python frame of its stack
(the code a developer can change; the native frames under it say which library allocated).
Stacks that are noise are dropped: the import system (modules, code objects), memray itself,
tracemalloc's trace tables (the heap agent traces alongside memray) and the harness's agent.
What remains at exit is startup state and leaks; a leak is the one that grows with requests,
so each site also shows its bytes held per request served (an upper bound for a leak that
started with the load).

Its heap over time is kept too: what the target holds, as memray counts it, is the one memory
series of a profiled run that the profiler's own memory does not inflate (memray's tracker
keeps its bookkeeping in the target process, and it grows with the run: see the README).

The products land in <run>/memray/: `stacks.json` (this module's MemrayReport), `heap.csv`
(time, RSS and heap from memray's snapshots) and `leaks-flamegraph.html` (`memray flamegraph
--leaks --no-web`: opens offline). The flamegraph is a report (harness/report/flamegraph.py):
it is drawn by the `Draw` its caller hands in, from the records this module read, so the
capture is read once."""

from __future__ import annotations

import bisect
import csv
import functools
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.rundir import CAPTURE, MEMRAY_DIR, read_samples
from harness.series import HEAP_SERIES

STACKS_JSON = "stacks.json"
FLAMEGRAPH_HTML = "leaks-flamegraph.html"
HEAP_CSV = "heap.csv"
HEAP_STEP_S = 0.25  # memray snapshots every 10 ms; the harness samples every 0.2 s at most
REPORT_VERSION = 1
TOP = 10
MAX_FRAMES = 40
#: the note of a report read without drawing its flamegraph (a report format draws it later)
NOT_DRAWN = "flamegraph not requested"

Frame = tuple[str, str, int]  # memray's (function, file, line)

#: a Python frame anywhere in the stack puts the allocation in the import system
IMPORT_FILES = ("<frozen importlib", "<frozen zipimport>")
#: the innermost Python frame in one of these: not the target's own memory
PY_NOISE = ("/memray/", "tracemalloc.py", "linecache.py", "agent/sitecustomize.py")
RUNPY = ("runpy.py", "<frozen runpy>")
EVAL_LOOP = ("_PyEval_EvalFrame", "PyEval_EvalFrame", "_TAIL_CALL_")
#: native frames (function or file) that mark memory the profiling tools themselves hold
NATIVE_NOISE = ("_tracemalloc.c", "tracemalloc_", "memray")


class CaptureRecord(Protocol):
    """What this module reads of memray's AllocationRecord (a protocol: tests fake it)."""

    @property
    def size(self) -> int: ...

    @property
    def n_allocations(self) -> int: ...

    def stack_trace(self) -> Sequence[Frame]: ...

    def native_stack_trace(self) -> Sequence[Frame]: ...

    def hybrid_stack_trace(self) -> Sequence[Frame]: ...


def stacks_of(record: CaptureRecord) -> tuple[Sequence[Frame], Sequence[Frame]]:
    """The record's Python stack and its merged Python + native stack. memray cannot always
    pair the native stack's eval-loop frames with the Python frames (its merge asserts, e.g.
    under coroutines): then the native frames up to the interpreter's eval loop (the C path
    into the allocation) are followed by the whole Python stack."""
    python = record.stack_trace()
    try:
        return python, record.hybrid_stack_trace()
    except (AssertionError, ValueError, IndexError):
        try:
            native = list(record.native_stack_trace())
        except (AssertionError, ValueError, IndexError, NotImplementedError):
            native = []
        entry = next((i for i, f in enumerate(native) if f[0].startswith(EVAL_LOOP)), None)
        return python, [*native[:entry], *python]


@dataclass(frozen=True)
class StackSite:
    """One place in the target's code and the memory its allocations hold."""

    site: str  # innermost Python frame "file:line (function)", or a native one without Python
    bytes: int
    allocations: int
    frames: list[str]  # the largest stack of the site, innermost first, Python and native
    bytes_per_request: float | None = None  # held at the end / requests served (leaks only)


@dataclass
class MemrayReport:
    """The capture's findings; `stacks.json`, and `memray` in verdict.json."""

    capture: str  # relative to the run directory
    capture_bytes: int
    flamegraph: str | None
    python_allocator: str  # "malloc" is what leak reports need
    native_traces: bool
    peak_bytes: int
    allocations: int
    held_bytes: int  # everything still allocated when tracking stopped
    held_noise_bytes: int  # of which imports, memray, tracemalloc
    leaks: list[StackSite]
    peak: list[StackSite]
    note: str
    children: list[str] = field(default_factory=list)  # captures of forked children
    version: int = REPORT_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MemrayReport:
        fields = dict(data)
        fields["leaks"] = [StackSite(**site) for site in data.get("leaks", [])]
        fields["peak"] = [StackSite(**site) for site in data.get("peak", [])]
        return cls(**fields)


def _frame_text(frame: Frame) -> str:
    function, file, line = frame
    return f"{file}:{line} ({function})"


def is_python_noise(python: Sequence[Frame]) -> bool:
    """Noise the Python stack alone shows: imports, memray's and the agent's own code."""
    if any(file.startswith(IMPORT_FILES) for _, file, _ in python):
        return True
    return bool(python) and any(part in python[0][1] for part in PY_NOISE)


def is_noise(python: Sequence[Frame], hybrid: Sequence[Frame]) -> bool:
    """Memory the target's own code does not hold: imports, the profilers, the agent."""
    if is_python_noise(python):
        return True
    own = set(python)  # memray's command is the outermost Python frame of every stack
    native = [frame for frame in hybrid if frame not in own]
    return any(
        part in function or part in file for function, file, _ in native for part in NATIVE_NOISE
    )


def site_of(python: Sequence[Frame], hybrid: Sequence[Frame]) -> str:
    """The innermost Python frame; without one, the innermost native frame that is not the
    allocator itself."""
    if python:
        return _frame_text(python[0])
    for frame in hybrid:
        if not frame[0].startswith(("malloc", "calloc", "realloc", "__libc_", "operator new")):
            return _frame_text(frame)
    return "?"


def _trimmed(hybrid: Sequence[Frame]) -> list[str]:
    """Innermost first, up to the interpreter's entry into the target (runpy and memray's
    command are the same in every stack)."""
    frames = []
    for frame in hybrid[:MAX_FRAMES]:
        if frame[1].endswith(RUNPY) or "/memray/" in frame[1]:
            break
        frames.append(_frame_text(frame))
    return frames


def rank(
    records: Iterable[CaptureRecord], requests: int | None = None, top: int = TOP
) -> tuple[list[StackSite], int, int]:
    """Sites by bytes held, noise dropped; also the bytes of all records and of the noise.
    `requests` (served in the run) gives each site's bytes per request."""
    sizes: dict[str, int] = {}
    counts: dict[str, int] = {}
    largest: dict[str, tuple[int, Sequence[Frame]]] = {}
    total = noise = 0
    for record in records:
        total += record.size
        if is_python_noise(record.stack_trace()):  # before symbolizing its native frames
            noise += record.size
            continue
        python, hybrid = stacks_of(record)
        if is_noise(python, hybrid):
            noise += record.size
            continue
        site = site_of(python, hybrid)
        sizes[site] = sizes.get(site, 0) + record.size
        counts[site] = counts.get(site, 0) + record.n_allocations
        if record.size > largest.get(site, (-1, ()))[0]:
            largest[site] = (record.size, hybrid)
    ranked = sorted(sizes, key=lambda site: sizes[site], reverse=True)[:top]
    sites = [
        StackSite(
            site=site,
            bytes=sizes[site],
            allocations=counts[site],
            frames=_trimmed(largest[site][1]),
            bytes_per_request=sizes[site] / requests if requests else None,
        )
        for site in ranked
    ]
    return sites, total, noise


def requests_served(run_dir: Path) -> int | None:
    """The last cumulative request count in samples.csv."""
    try:
        rows = read_samples(run_dir)
    except (OSError, ValueError):  # no samples.csv, or not one (RunDirError)
        return None
    counts = [int(row["requests"]) for row in rows if row.get("requests")]
    return counts[-1] if counts else None


def write_heap_series(snapshots: Iterable[Any], path: Path) -> int:
    """memray's memory snapshots (ms since the epoch, RSS, heap) as heap.csv, one row per
    HEAP_STEP_S at most; returns the rows written."""
    rows, last = [], -math.inf
    for snapshot in snapshots:
        seconds = snapshot.time / 1000
        if seconds - last >= HEAP_STEP_S:
            rows.append((f"{seconds:.3f}", snapshot.rss, snapshot.heap))
            last = seconds
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "rss", "heap"])
        writer.writerows(rows)
    return len(rows)


def attach_heap(run_dir: Path, rows: list[dict[str, str]]) -> bool:
    """Give each sample row the heap memray counted at its time (the last snapshot at or
    before it), as the HEAP_SERIES column; False when the run has no heap.csv."""
    path = run_dir / MEMRAY_DIR / HEAP_CSV
    if not path.is_file():
        return False
    try:
        with path.open(encoding="utf-8") as handle:
            series = [(float(r["time"]), r["heap"]) for r in csv.DictReader(handle)]
    except (OSError, KeyError, ValueError):
        return False
    times = [when for when, _ in series]
    for row in rows:
        index = bisect.bisect_right(times, float(row["time"])) - 1 if row.get("time") else -1
        row[HEAP_SERIES] = series[index][1] if index >= 0 else ""
    return bool(series)


class Stacked:
    """A capture record with its stacks worked out once (symbolizing native frames is the
    slow part), shared by the ranking and the flamegraph; memray's reporter reads the rest
    of the record (size, thread) through it."""

    def __init__(self, record: Any) -> None:
        self._record = record
        self.python: Sequence[Frame] = record.stack_trace()

    @functools.cached_property
    def hybrid(self) -> Sequence[Frame]:
        return stacks_of(self._record)[1]

    @functools.cached_property
    def noise(self) -> bool:
        return is_python_noise(self.python) or is_noise(self.python, self.hybrid)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._record, name)

    def stack_trace(self, max_stacks: int | None = None) -> Sequence[Frame]:
        return self.python[:max_stacks]

    def hybrid_stack_trace(self, max_stacks: int | None = None) -> Sequence[Frame]:
        return self.hybrid[:max_stacks]


#: draws the leaks flamegraph of (memray's reader, the records to show) into a file; returns
#: None when it worked, else why not (harness.report.flamegraph.render_flamegraph)
Draw = Callable[[Any, Sequence[Stacked], Path], str | None]


def undrawn(report: MemrayReport) -> bool:
    """Were the stacks read without drawing the flamegraph (no `Draw` was handed in)?"""
    return report.flamegraph is None and report.note.endswith(NOT_DRAWN)


def build(run_dir: Path, draw: Draw | None = None) -> MemrayReport | None:
    """Read the run's capture and write stacks.json (and, with `draw`, the flamegraph); None
    without a capture. Raises OSError or ValueError when the capture cannot be read (a target
    killed before memray wrote it)."""
    import memray  # only where a capture is read: the reader is a native extension

    directory = run_dir / MEMRAY_DIR
    capture = directory / CAPTURE
    if not capture.is_file():
        return None
    requests = requests_served(run_dir)
    figure = directory / FLAMEGRAPH_HTML
    notes = [f"memory still allocated when {capture.name}'s process exited, noise removed"]
    with memray.FileReader(capture) as reader:
        meta = reader.metadata
        held_records = [
            Stacked(r) for r in reader.get_leaked_allocation_records(merge_threads=True)
        ]
        leaks, held, noise = rank(held_records, requests)
        peak, _, _ = rank(
            Stacked(r) for r in reader.get_high_watermark_allocation_records(merge_threads=True)
        )
        write_heap_series(reader.get_memory_snapshots(), directory / HEAP_CSV)
        shown = [r for r in held_records if not r.noise]
        problem = draw(reader, shown, figure) if draw is not None else NOT_DRAWN
    if meta.python_allocator != "malloc":
        notes.append(
            f"Python's allocator was {meta.python_allocator}, not malloc: held memory includes "
            "whole pymalloc arenas (run with PYTHONMALLOC=malloc)"
        )
    if problem:
        notes.append(problem)
    report = MemrayReport(
        capture=str(capture.relative_to(run_dir)),
        capture_bytes=capture.stat().st_size,
        flamegraph=None if problem else str(figure.relative_to(run_dir)),
        python_allocator=str(meta.python_allocator),
        native_traces=bool(meta.has_native_traces),
        peak_bytes=int(meta.peak_memory),
        allocations=int(meta.total_allocations),
        held_bytes=held,
        held_noise_bytes=noise,
        leaks=leaks,
        peak=peak,
        note="; ".join(notes),
        children=sorted(p.name for p in directory.glob(f"{CAPTURE}.*")),
    )
    (directory / STACKS_JSON).write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return report


def load_or_build(
    run_dir: Path, warn: Callable[[str], None] | None = None, draw: Draw | None = None
) -> MemrayReport | None:
    """The report of a run profiled with memray: stacks.json when it is newer than the
    capture, else built now (the flamegraph drawn by `draw`, when given). None, with a
    warning, for a run without a usable capture: that costs the native stacks, never the
    verdict."""
    directory = run_dir / MEMRAY_DIR
    capture, stacks = directory / CAPTURE, directory / STACKS_JSON
    if not capture.is_file() or capture.stat().st_size == 0:
        if warn is not None:
            warn(
                "profiled with memray, but no capture was written: memray writes it when the "
                "target exits cleanly, and this one did not (OOM-killed, or killed)"
            )
        return None
    try:
        fresh = stacks.is_file() and stacks.stat().st_mtime >= capture.stat().st_mtime
        if fresh and (directory / HEAP_CSV).is_file():
            data = json.loads(stacks.read_text(encoding="utf-8"))
            if data.get("version") == REPORT_VERSION:
                return MemrayReport.from_json(data)
        return build(run_dir, draw)
    except (OSError, ValueError, RuntimeError, TypeError, AssertionError) as exc:
        if warn is not None:
            warn(f"memray capture not read: {exc}")
        return None
