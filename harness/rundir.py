"""The run directory: the contract between the run and every later stage.

Everything is written as it happens (samples and events flushed line by line, run.json
rewritten atomically), so a run that is interrupted, crashes, or whose target is OOM-killed
can still be analyzed up to that moment."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from harness.errors import RunDirError
from harness.redaction import Redactor
from harness.redaction import redact as redact  # where the commands have found it

RUN_JSON = "run.json"
SAMPLES_CSV = "samples.csv"
EVENTS_JSONL = "events.jsonl"
TARGET_LOG = "target.log"
HEAP_DIR = "heap"
LOCUST_PREFIX = "locust"
MEMRAY_DIR = "memray"  # a run profiled with memray: its capture and what was read from it
CAPTURE = "capture.bin"


def capture_path(run_dir: Path) -> Path:
    """Where memray writes the capture of a profiled run."""
    return run_dir / MEMRAY_DIR / CAPTURE


def profiled_run(meta: Mapping[str, Any]) -> bool:
    """Was this run (its run.json) profiled with memray?"""
    return (meta.get("profile") or {}).get("tool") == "memray"


def read_meta(run_dir: Path) -> dict[str, Any]:
    """run.json: the one place it is parsed. A missing, truncated or mis-shaped one raises
    RunDirError (one line that names the file), never a traceback further in."""
    path = run_dir / RUN_JSON
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(
            f"no {RUN_JSON} in {run_dir}: not a run directory; give the path of one under "
            "reports/runs/"
        ) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise RunDirError(f"{RUN_JSON} is truncated or not JSON: {path}: {exc}") from None
    if not isinstance(meta, dict):
        raise RunDirError(f"{RUN_JSON} is not a JSON object: {path}")
    for key in _META_OBJECTS:
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise RunDirError(f"{RUN_JSON}: {key!r} is not an object: {path}")
    thresholds = (meta.get("scenario") or {}).get("thresholds") or {}
    if not isinstance(thresholds, dict):
        raise RunDirError(f"{RUN_JSON}: scenario.thresholds is not an object: {path}")
    for name, value in thresholds.items():
        if not _number(value):
            raise RunDirError(f"{RUN_JSON}: scenario.thresholds.{name} is not a number: {path}")
    return meta


#: run.json's sections the readers index into: each an object when present
_META_OBJECTS = ("outcome", "scenario", "settings", "target", "target_backend", "startup")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Skipped:
    """What a reader left out of a file, said in one line. `expected`: the half-written last
    line of a run stopped mid-write, which every killed run has: a note, not a warning."""

    message: str
    expected: bool = False


#: what a reader tells about the lines it skipped (None: nobody asked)
OnSkip = Callable[[Skipped], None] | None


def _tell(on_skip: OnSkip, skipped: Skipped) -> None:
    if on_skip is not None:
        on_skip(skipped)


def _counted(file: str, why: str, where: list[str]) -> Skipped:
    """'skipped 3 rows of samples.csv <why> (first: <where[0]>)'"""
    noun = "row" if file == SAMPLES_CSV else "line"
    plural = "" if len(where) == 1 else "s"
    return Skipped(f"skipped {len(where)} {noun}{plural} of {file} {why} (first: {where[0]})")


def _half_written(file: str) -> Skipped:
    return Skipped(
        f"skipped the half-written last line of {file} (the run was stopped mid-write)",
        expected=True,
    )


#: one row of samples.csv: every column as written (an empty cell: not measured; a column
#: the file lacks, as an older harness wrote it: empty); every cell of a numeric column
#: parses as a finite number (read_samples checked it)
SampleRow = dict[str, str]

#: the columns a samples.csv must have: without them nothing in it can be placed
_REQUIRED = ("time", "requests")
#: the columns every row must have a value in, when the file has them
_FILLED = ("time", "elapsed_s", "phase", "requests")
#: the columns that are whole numbers (the rest but `phase` are numbers)
_INTEGERS = frozenset({"requests", "failures", "users"})


def _cell_ok(column: str, cell: str) -> bool:
    try:
        value = int(cell) if column in _INTEGERS else float(cell)
    except ValueError:
        return False
    return math.isfinite(value)


def read_samples(run_dir: Path, on_skip: OnSkip = None) -> list[SampleRow]:
    """samples.csv's rows: the one place it is parsed, and checked, so nothing downstream
    meets a cell it cannot read. A row with the wrong number of cells or a non-numeric one is
    skipped and counted (`on_skip` hears it); the half-written last line of a killed run
    (no line end) is skipped as expected. Raises RunDirError when the file is missing or is
    not a samples.csv."""
    path = run_dir / SAMPLES_CSV
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunDirError(
            f"no {SAMPLES_CSV} in {run_dir}: not a run directory, or the run never started"
        ) from None
    except ValueError as exc:
        raise RunDirError(f"{SAMPLES_CSV} is not text: {path}: {exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        records = [(reader.line_num, cells) for cells in reader]
    except csv.Error as exc:
        raise RunDirError(f"{SAMPLES_CSV} is not CSV: {path}: {exc}") from None
    if text and not text.endswith("\n"):  # the writer ends every row: this one was cut
        records.pop()
        _tell(on_skip, _half_written(SAMPLES_CSV))
    if not records:
        return []
    header = records[0][1]
    missing = [column for column in _REQUIRED if column not in header]
    if missing:
        columns = f"column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        raise RunDirError(
            f"{SAMPLES_CSV} has no {columns}: not a samples.csv the harness wrote: {path}"
        )
    numeric = [c for c in header if c in SAMPLE_FIELDS and c != "phase"]
    filled = [c for c in _FILLED if c in header]
    absent = dict.fromkeys((c for c in SAMPLE_FIELDS if c not in header), "")
    rows: list[SampleRow] = []
    ragged: list[str] = []
    bad: list[str] = []
    for line, cells in records[1:]:
        if not cells:
            continue  # a blank line holds no sample
        if len(cells) != len(header):
            ragged.append(f"line {line}")
            continue
        row = {**absent, **dict(zip(header, cells, strict=True))}
        empty = [c for c in filled if not row[c]]
        wrong = empty or [c for c in numeric if row[c] and not _cell_ok(c, row[c])]
        if wrong:
            bad.append(f"line {line}, column {wrong[0]}={row[wrong[0]]!r}")
            continue
        rows.append(row)
    if ragged:
        _tell(on_skip, _counted(SAMPLES_CSV, "with the wrong number of cells", ragged))
    if bad:
        _tell(on_skip, _counted(SAMPLES_CSV, "with non-numeric cells", bad))
    return rows


_NOT_EVENT = "that is not an event (no event name, or a non-numeric time)"


def read_events(run_dir: Path, on_skip: OnSkip = None) -> list[dict[str, Any]]:
    """events.jsonl's records, each an object with an `event` name (and a numeric `time` when
    it has one). Other lines are skipped and counted (`on_skip` hears it); so is the
    half-written last line of a killed run, as expected. No events.jsonl: no events, said
    as a warning (the samples can still be judged)."""
    path = run_dir / EVENTS_JSONL
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        unknown = "phase marks, cleanup answers, heap snapshot times, endpoint checks unknown"
        _tell(
            on_skip, Skipped(f"no {EVENTS_JSONL} in {run_dir}: judged without events ({unknown})")
        )
        return []
    lines = text.splitlines()
    if text and not text.endswith("\n"):  # the writer ends every record: this one was cut
        lines.pop()
        _tell(on_skip, _half_written(EVENTS_JSONL))
    events: list[dict[str, Any]] = []
    kinds: dict[str, list[str]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            kinds.setdefault("that is not JSON", []).append(f"line {number}")
            continue
        if not isinstance(record, dict):
            kinds.setdefault("that is not a JSON object", []).append(f"line {number}")
        elif not isinstance(record.get("event"), str) or (
            "time" in record and not _number(record["time"])
        ):
            kinds.setdefault(_NOT_EVENT, []).append(f"line {number}")
        else:
            events.append(record)
    for why, where in kinds.items():
        if len(where) > 1:
            why = why.replace("is not a JSON object", "are not JSON objects")
            why = why.replace("is not an event", "are not events").replace("is not", "are not")
        _tell(on_skip, _counted(EVENTS_JSONL, why, where))
    return events


#: a file of the run directory over this is not scrubbed of secrets (run.json names it)
SCRUB_MAX_BYTES = 256 << 20


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Sample:
    """One row of samples.csv. Sizes in bytes; None where the backend cannot see it. The
    series reports judge and draw, with their labels and colours, are in harness/series.py."""

    time: float
    elapsed_s: float
    phase: str
    requests: int
    failures: int
    users: int
    load_cpu_s: float | None = None  # CPU seconds of the Locust (master) process
    working_set: int | None = None
    container_anon: int | None = None  # anon + shmem: the container's memory minus page cache
    cgroup_usage: int | None = None
    cgroup_peak: int | None = None
    cgroup_limit: int | None = None
    shmem: int | None = None
    oom_kills: int | None = None
    rss: int | None = None
    uss: int | None = None
    pss: int | None = None
    fds: int | None = None
    sockets: int | None = None
    threads: int | None = None
    processes: int | None = None
    cpu_s: float | None = None
    app_tasks: int | None = None
    app_connections: int | None = None
    app_cache_entries: int | None = None
    app_cache_bytes: int | None = None
    app_heap: int | None = None
    app_malloc: int | None = None  # bytes the C allocator has handed out (native heap)


SAMPLE_FIELDS = [f.name for f in fields(Sample)]


class RunDirectory:
    """Writes one run. Create with `RunDirectory.create`, read back with `harness.runs`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.heap_dir = path / HEAP_DIR
        self.meta: dict[str, Any] = {}
        self._samples: TextIO | None = None
        self._writer: Any = None
        self._events: TextIO | None = None
        self.started = time.time()
        self.redactor = Redactor()  # what it masked, masked again wherever it shows up
        self._scrubbed = False

    @classmethod
    def create(cls, out: Path, scenario: str, meta: Mapping[str, Any]) -> RunDirectory:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        runs = out / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        path = runs / f"{stamp}-{scenario}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = runs / f"{stamp}-{scenario}-{suffix}"
        path.mkdir()
        run = cls(path)
        run.heap_dir.mkdir()
        run.redactor.learn_environment()  # a process target inherits the harness's
        run.meta = {
            "id": path.name,
            "started_at": _now_iso(),
            "outcome": {"status": "running"},
            **run.redactor.record(dict(meta)),
        }
        run.write_meta()
        run._samples = (path / SAMPLES_CSV).open("w", newline="", encoding="utf-8")
        run._writer = csv.DictWriter(run._samples, fieldnames=SAMPLE_FIELDS)
        run._writer.writeheader()
        run._samples.flush()
        run._events = (path / EVENTS_JSONL).open("a", encoding="utf-8")
        _point_latest(out, path)
        return run

    def write_meta(self) -> None:
        tmp = self.path / f".{RUN_JSON}.tmp"
        tmp.write_text(json.dumps(self.meta, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, self.path / RUN_JSON)

    def update(self, **items: Any) -> None:
        self.meta.update(self.redactor.record(items))
        self.write_meta()

    def sample(self, sample: Sample) -> None:
        if self._writer is None or self._samples is None:
            return
        self._writer.writerow(asdict(sample))
        self._samples.flush()

    def event(self, kind: str, /, **data: Any) -> dict[str, Any]:
        record = {
            "time": round(time.time(), 3),
            "elapsed_s": round(time.time() - self.started, 3),
            "event": kind,
            **self.redactor.record(data),
        }
        if self._events is not None:
            self._events.write(json.dumps(record, default=str) + "\n")
            self._events.flush()
        return record

    def finish(self, status: str, exit_code: int, **detail: Any) -> None:
        """Record how the run ended: completed, interrupted, oom-killed, target-exited, error."""
        self.meta["outcome"] = {
            "status": status,
            "exit_code": exit_code,
            "ended_at": _now_iso(),
            "duration_s": round(time.time() - self.started, 2),
            **self.redactor.record(detail),
        }
        self.event("run-end", status=status, **detail)
        self.write_meta()
        self.close()

    def close(self) -> None:
        """Close the files, then scrub the secrets out of what others wrote into the run
        directory (target.log, Locust's files, the upstreams'), and out of run.json again with
        all that was learned there."""
        for handle in (self._samples, self._events):
            if handle is not None and not handle.closed:
                handle.close()
        if self._scrubbed:
            return
        self._scrubbed = True
        try:
            scrub = self.redactor.scrub_tree(self.path, (RUN_JSON, SAMPLES_CSV), SCRUB_MAX_BYTES)
        except OSError as exc:
            scrub = {"skipped": [f"the run directory was not scrubbed of secrets: {exc}"]}
        self.meta = self.redactor.record(self.meta)
        if scrub:
            self.meta["redaction"] = scrub
        self.write_meta()


def _point_latest(out: Path, path: Path) -> None:
    latest = out / "latest"
    tmp = out / ".latest.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(path.relative_to(out))
    os.replace(tmp, latest)
