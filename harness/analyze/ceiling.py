"""A limit reached is never a plateau. A series that climbs to its hard limit stops there
because it cannot go further, not because it stopped leaking: open fds at the target's
RLIMIT_NOFILE (it then refuses connections, and its requests stop), threads at its process
limit, memory at the cgroup's limit (the kernel reclaims, then kills). The trend fit sees the
flat top as a plateau, or the run ends before it has a window; here such a run is a leak, with
the limit as its evidence.

The limits come from the run directory: run.json `target_limits` (read from the target's
/proc/<pid>/limits once it was healthy: {"nofile": N, "nproc": M}, None for unlimited), the
memory limit from samples.csv `cgroup_limit` or run.json `target_backend`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.rundir import SampleRow
from harness.series import MEMORY_SERIES, RESOURCE_SERIES
from harness.units import MIB

#: the share of its limit at which a series has reached it: the last few fds or threads are
#: where a leak stops (a sample may miss the exact top, and the target holds a few for itself)
NEAR = 0.95
#: the run.json target_limits key each resource series is held to; fds and sockets (a socket
#: is an fd) are held to open files per process, threads to the processes limit (which counts
#: threads)
LIMIT_OF = {"fds": "nofile", "sockets": "nofile", "threads": "nproc"}
LIMIT_NAME = {"nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC"}
#: a limit at or above this is no limit (a cgroup without one reports "max": 2**63 - 1)
UNLIMITED = float(1 << 62)
#: under load, memory must grow at least this share of the rate it climbed at since the load
#: began (warm-up included), as the trend fit asks of a window's second half: a cache that
#: filled in the warm-up and then a single large request is not a leak
SUSTAINED = 0.33


@dataclass(frozen=True)
class Reached:
    """A series that reached its limit: which, and the evidence."""

    series: str
    reason: str
    #: memory only: what it grew per request under load on the way up
    per_request: float | None = None


def oom_killed(
    rows: list[SampleRow], meta: Mapping[str, Any], events: list[dict[str, Any]]
) -> str | None:
    """How the run shows an OOM kill, or None: its outcome, an oom-killed event, or the
    cgroup's oom_kill counter rising (a kill of a worker the target survived counts too)."""
    if (meta.get("outcome") or {}).get("status") == "oom-killed":
        return "the target was OOM-killed"
    if any(e["event"] == "oom-killed" for e in events):
        return "an OOM kill was recorded"
    kills = [float(r["oom_kills"]) for r in rows if r.get("oom_kills")]
    if kills and max(kills) > kills[0]:
        return f"the cgroup counted {max(kills) - kills[0]:.0f} OOM kill(s)"
    return None


def _value(row: SampleRow, name: str) -> float | None:
    text = row.get(name)
    return float(text) if text not in (None, "") else None


def _is_load(row: SampleRow) -> bool:
    return row["phase"].startswith("load")


def _killed_at(
    rows: list[SampleRow], meta: Mapping[str, Any], events: list[dict[str, Any]]
) -> tuple[int, str] | None:
    """(how many samples came before the OOM kill, the phase it struck in), or None."""
    kills = [(i, _value(r, "oom_kills")) for i, r in enumerate(rows)]
    counted = [(i, k) for i, k in kills if k is not None]
    for i, k in counted:
        if k > counted[0][1]:
            return i, rows[i]["phase"]
    outcome = meta.get("outcome") or {}
    event = next((e for e in events if e["event"] == "oom-killed"), None)
    if (outcome.get("status") != "oom-killed" and event is None) or not rows:
        return None
    phase = outcome.get("phase") or (event or {}).get("phase") or rows[-1]["phase"]
    return len(rows), str(phase)


def memory_limit(rows: list[SampleRow], meta: Mapping[str, Any]) -> float | None:
    """The memory limit the target was held to (bytes), or None when none was enforced:
    the cgroup's as sampled, else the backend's (run.json). A configured threshold is no
    limit: nothing stops a series there."""
    sampled = [v for v in (_value(r, "cgroup_limit") for r in rows) if v and v < UNLIMITED]
    if sampled:
        return sampled[-1]
    backend = meta.get("target_backend") or {}
    limit = backend.get("memory_limit_bytes")
    if backend.get("memory_limit_enforced") and isinstance(limit, int | float) and limit > 0:
        return float(limit)
    return None


def steady_growth(rows: list[SampleRow], name: str) -> tuple[float, float]:
    """(growth, requests) of `name` under load at a steady user count: summed over pairs of
    consecutive samples with the same users, the later one under load (the warm-up's last
    sample counts as the first one's predecessor). A level's first interval is left out:
    users are still being added and the memory of the requests in flight is still rising,
    and concurrency is not a leak (a spike to 64 users holds more, and gives it back)."""
    grown = served = 0.0
    level_start = 0
    for k in range(1, len(rows)):
        before, row = rows[k - 1], rows[k]
        if before["users"] != row["users"]:
            level_start = k
            continue
        a, b = _value(before, name), _value(row, name)
        if k - 1 == level_start or not _is_load(row) or a is None or b is None:
            continue
        grown += b - a
        served += float(row["requests"] or 0) - float(before["requests"] or 0)
    return grown, served


def _climbed_with_requests(
    rows: list[SampleRow], name: str, leak_bytes_per_request: float, min_growth: float
) -> tuple[float, float, float] | None:
    """(growth, requests, growth since the load began) when `name` rose with requests under
    load at a leak's rate and kept the rate it climbed at since the load (warm-up included)
    began; None else."""
    grown, served = steady_growth(rows, name)
    if served <= 0 or grown < min_growth or grown / served < leak_bytes_per_request:
        return None
    loaded = [r for r in rows if float(r["requests"] or 0) > 0 and _value(r, name) is not None]
    if len(loaded) < 2:
        return None
    first, last = loaded[0], max(loaded, key=lambda r: _value(r, name) or 0.0)
    climb = (_value(last, name) or 0.0) - (_value(first, name) or 0.0)
    requests = float(last["requests"]) - float(first["requests"])
    if requests > 0 and grown / served < SUSTAINED * climb / requests:
        return None
    return grown, served, climb


def _memory_level(rows: list[SampleRow]) -> str | None:
    """The series an OOM kill counts: anon+shm (page cache is reclaimed first), else RSS."""
    return next((n for n in ("container_anon", "rss") if any(r.get(n) for r in rows)), None)


def memory_at_limit(
    rows: list[SampleRow],
    meta: Mapping[str, Any],
    events: list[dict[str, Any]],
    leak_bytes_per_request: float,
    min_growth_bytes: float,
) -> Reached | None:
    """An OOM kill under load after memory rose with requests, or memory that rose with
    requests under load to NEAR its limit. An OOM kill at boot or in the warm-up (the service
    does not fit its limit, or a warm-up spike: no growth under load), or under load without
    that growth (a burst of concurrency, one huge request), is not a leak: the checklist's
    peak item FAILs on every kill."""
    name = _memory_level(rows)
    if name is None:
        return None
    limit = memory_limit(rows, meta)
    at = f"the {limit / MIB:,.0f} MiB limit" if limit else "its limit"
    killed = _killed_at(rows, meta, events)
    if killed is not None:
        before, phase = killed
        if not phase.startswith("load"):
            return None
        climbed = _climbed_with_requests(
            rows[:before], name, leak_bytes_per_request, min_growth_bytes
        )
        what = f"OOM-killed at {at}"
    else:
        if limit is None:
            return None
        tops = [
            i for i, r in enumerate(rows) if _is_load(r) and (_value(r, name) or 0) >= NEAR * limit
        ]
        top = tops[0] if tops else None
        if top is None:
            return None
        climbed = _climbed_with_requests(
            rows[: top + 1], name, leak_bytes_per_request, min_growth_bytes
        )
        highest = max(_value(r, name) or 0.0 for r in rows if _is_load(r))
        what = f"reached {100 * highest / limit:.0f}% of {at}"
    if climbed is None:
        return None
    grown, served, since = climbed
    return Reached(
        name,
        f"{MEMORY_SERIES[name]}: {what} after growing {grown / MIB:,.1f} MiB over "
        f"{served:,.0f} requests under load ({grown / served:,.0f} B/request; "
        f"{since / MIB:,.1f} MiB since the load began): a limit reached is not a plateau",
        grown / served,
    )


def resources_at_limit(
    rows: list[SampleRow], meta: Mapping[str, Any], min_growth: float
) -> list[Reached]:
    """The resource series that climbed (by more than `min_growth`, from their first reading)
    to NEAR their limit under load (fds and the sockets among them reach it together). fds
    are counted over the process tree and each process has its own limit, so the tree's is
    the limit times its processes."""
    limits = meta.get("target_limits") or {}
    reached = []
    for name, key in LIMIT_OF.items():
        limit = limits.get(key)
        if not isinstance(limit, int) or limit <= 0:
            continue
        readings = [(r, v) for r in rows if (v := _value(r, name)) is not None]
        if not readings:
            continue

        def cap(row: SampleRow, key: str = key, limit: int = limit) -> float:
            processes = _value(row, "processes") or 1.0
            return limit * max(processes, 1.0) if key == "nofile" else float(limit)

        loaded = [(r, v) for r, v in readings if _is_load(r)]
        if not loaded:
            continue
        row, top = max(loaded, key=lambda p: p[1] / cap(p[0]))
        first = readings[0][1]
        if top < NEAR * cap(row) or top - first <= min_growth:
            continue
        reached.append(
            Reached(
                name,
                f"{RESOURCE_SERIES[name]}: reached {top:,.0f} under load, "
                f"{100 * top / cap(row):.0f}% of the target's limit ({LIMIT_NAME[key]} "
                f"{cap(row):,.0f}), from {first:,.0f}: a limit reached is not a plateau",
            )
        )
    return reached
