"""How long until the container reaches its memory limit at production load, from a leak's
growth: the headroom between the limit the run was held to and the container's level, over
the leak's rate."""

from __future__ import annotations

from typing import Any

from harness.rundir import SampleRow
from harness.units import MIB

#: a limit at or above this is no limit (a cgroup without one reports "max": 2**63 - 1)
UNLIMITED = float(1 << 62)
#: the container's own level, in order of preference: what the OOM killer counts (anon+shm),
#: the working set, the process's RSS (no container: the process backend)
CONTAINER_LEVEL = ("container_anon", "working_set", "rss")


def _limit(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if 0 < value < UNLIMITED else None
    return None


def enforced_limit(rows: list[SampleRow], meta: dict[str, Any], fallback_mb: float) -> float:
    """The memory limit (bytes) the run was held to: what the cgroup reported last in
    samples.csv, else what the backend set (run.json target_backend), else the configured
    one (run.json settings), else `fallback_mb` (the scenario's container_limit_mb)."""
    sampled = [_limit(float(row["cgroup_limit"])) for row in rows if row.get("cgroup_limit")]
    backend = meta.get("target_backend") or {}
    settings = meta.get("settings") or {}
    for limit in (
        sampled[-1] if sampled else None,
        _limit(backend.get("memory_limit_bytes")),
        _limit(settings.get("memory_limit")),
    ):
        if limit is not None:
            return limit
    return fallback_mb * MIB


def hours_to_limit(
    rows: list[SampleRow], meta: dict[str, Any], fallback_mb: float, mb_per_hour: float
) -> float | None:
    """Hours until the container is at its limit: the enforced limit less the container's
    level at the end of the judged window `rows` (the container is what gets killed, not its
    heap), over `mb_per_hour`, the deciding series' growth: the leak's rate with the
    strongest evidence (the container grows at least as fast as a leaking heap in the long
    run; its own faster drift over a short window is the allocator settling, not the leak).
    None without a container or process level, or without growth."""
    if mb_per_hour <= 0:
        return None
    for name in CONTAINER_LEVEL:
        level = [float(row[name]) for row in rows if row.get(name)]
        if level:
            headroom = (enforced_limit(rows, meta, fallback_mb) - level[-1]) / MIB
            return max(0.0, headroom / mb_per_hour)
    return None
