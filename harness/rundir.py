"""The run directory: the contract between the run and every later stage.

Everything is written as it happens (samples and events flushed line by line, run.json
rewritten atomically), so a run that is interrupted, crashes, or whose target is OOM-killed
can still be analyzed up to that moment."""

from __future__ import annotations

import csv
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

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
    """run.json: the one place it is parsed. Raises ValueError when it is not a JSON object."""
    meta = json.loads((run_dir / RUN_JSON).read_text(encoding="utf-8"))
    if not isinstance(meta, dict):
        raise ValueError(f"{run_dir / RUN_JSON} is not a JSON object")
    return meta


#: one row of samples.csv: every column as written (an empty cell: not measured)
SampleRow = dict[str, str]


def read_samples(run_dir: Path) -> list[SampleRow]:
    """samples.csv's rows: the one place it is parsed."""
    with (run_dir / SAMPLES_CSV).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    """events.jsonl's records (a half-written last line of a killed run skipped)."""
    events = []
    for line in (run_dir / EVENTS_JSONL).read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


_SECRET = re.compile(r"(key|secret|token|password|connection.?string)", re.IGNORECASE)


def redact(value: Any, name: str = "") -> Any:
    """Configuration as it may be shared: values of secret-looking names are replaced."""
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, name) for v in value]
    if isinstance(value, str) and value and _SECRET.search(name):
        return "***"
    return value


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
        run.meta = {
            "id": path.name,
            "started_at": _now_iso(),
            "outcome": {"status": "running"},
            **redact(dict(meta)),
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
        self.meta.update(redact(items))
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
            **data,
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
            **detail,
        }
        self.event("run-end", status=status, **detail)
        self.write_meta()
        self.close()

    def close(self) -> None:
        for handle in (self._samples, self._events):
            if handle is not None and not handle.closed:
                handle.close()


def _point_latest(out: Path, path: Path) -> None:
    latest = out / "latest"
    tmp = out / ".latest.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(path.relative_to(out))
    os.replace(tmp, latest)
