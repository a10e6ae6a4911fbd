"""A synthetic run directory with known contents, for report and analysis tests that need a
whole run without spending a minute of load on it."""

from __future__ import annotations

import random
from pathlib import Path

from harness.rundir import RunDirectory, Sample

MIB = 1 << 20


def memory_sample(
    i: int, phase: str, requests: int, anon: float, users: int = 8, **columns: int | None
) -> Sample:
    """Row `i` (one a second from t=1000) with the container's memory at `anon` bytes, its
    working set and RSS a fixed distance above; `columns` adds or overrides the rest."""
    row = Sample(
        time=1000.0 + i,
        elapsed_s=float(i),
        phase=phase,
        requests=requests,
        failures=0,
        users=users,
        working_set=int(anon + 4 * MIB),
        container_anon=int(anon),
        rss=int(anon + 10 * MIB),
    )
    for name, value in columns.items():
        setattr(row, name, value)
    return row


def synthetic_run(
    tmp_path: Path,
    heap_leak: float = 0.0,
    outcome: str = "completed",
    seed: int = 7,
    *,
    started_at: str | None = None,
    branch: str | None = None,
    startup_bytes: int | None = None,
) -> Path:
    """`seed` draws other noise: two clean runs that differ only by chance. `started_at` (ISO
    8601) orders runs in a history; `branch` and `startup_bytes` land where a run records them."""
    rng = random.Random(seed)
    meta = {
        "scenario": {"name": "synthetic", "description": "made by a test"},
        "settings": {"backend": "cgroup", "leaks": ["telemetry-buffer:1KiB"] if heap_leak else []},
        "environment": {"harness_version": "0", "python": "3.11", "git_commit": "abc"},
        "target_backend": {
            "backend": "cgroup",
            "memory_limit_bytes": 2 << 30,
            "memory_limit_enforced": True,
        },
    }
    if branch is not None:
        meta["environment"]["git_branch"] = branch
    if startup_bytes is not None:
        meta["startup"] = {"working_set": startup_bytes}
    run = RunDirectory.create(tmp_path, "synthetic", meta)
    if started_at is not None:
        run.update(started_at=started_at)
    run.event("phase", phase="warm-up")
    for i in range(120):
        phase = "warm-up" if i < 10 else "load-1" if i < 110 else "cleanup"
        if i in (10, 110):
            run.event("phase", phase=phase)
        requests = min(i, 110) * 30
        heap = 20 * MIB + heap_leak * requests + rng.gauss(0, 30_000)
        anon = 60 * MIB + heap_leak * requests + rng.gauss(0, 60_000)
        run.sample(
            memory_sample(
                i,
                phase,
                requests,
                anon,
                shmem=0,  # a container without tmpfs use: every cgroup reading has the series
                cgroup_peak=int(anon + 5 * MIB),
                app_heap=int(heap),
                fds=30,
                sockets=12,
                threads=4,
                app_tasks=6,
            )
        )
    (run.path / "locust_stats_history.csv").write_text(
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,95%,99%\n"
        + "".join(f"{1000 + t},8,,Aggregated,30,0,40,90,120\n" for t in range(0, 110, 5)),
        encoding="utf-8",
    )
    if outcome == "oom-killed":
        run.event("oom-killed", returncode=-9)
    run.finish(outcome, 0 if outcome == "completed" else 1)
    return run.path
