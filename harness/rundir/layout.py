"""The run directory's layout: the names of its files, the columns of samples.csv (`Sample`),
where a profiled run's capture goes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

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
