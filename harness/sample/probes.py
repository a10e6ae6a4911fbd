"""The cheap readings one sample is made of: the process tree (psutil and /proc) and the app's
own memory stats endpoint. Each probe returns what it could read and never raises."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import httpx
import psutil

from harness.units import MIB


@dataclass
class TreeReading:
    rss: int = 0
    uss: int = 0
    pss: int = 0
    fds: int = 0
    sockets: int = 0
    threads: int = 0
    processes: int = 0
    cpu_s: float = 0.0


class ProcessTree:
    """Sums over the target's processes; keeps psutil handles so CPU times stay cheap."""

    def __init__(self) -> None:
        self._handles: dict[int, psutil.Process] = {}
        self._cpu_of_gone = 0.0
        self._last_cpu: dict[int, float] = {}

    def read(self, pids: list[int]) -> TreeReading | None:
        if not pids:
            return None
        reading = TreeReading()
        for pid in pids:
            process = self._handles.get(pid)
            if process is None:
                with contextlib.suppress(psutil.Error):
                    process = self._handles[pid] = psutil.Process(pid)
            if process is None:
                continue
            try:
                with process.oneshot():
                    memory = process.memory_full_info()  # smaps_rollup: uss and pss
                    cpu = process.cpu_times()
                    reading.threads += process.num_threads()
                reading.rss += memory.rss
                reading.uss += getattr(memory, "uss", 0)
                reading.pss += getattr(memory, "pss", 0)
                reading.cpu_s += cpu.user + cpu.system
                self._last_cpu[pid] = cpu.user + cpu.system
                fds, sockets = _count_fds(pid)
                reading.fds += fds
                reading.sockets += sockets
                reading.processes += 1
            except psutil.Error:
                continue
        for gone in set(self._handles) - set(pids):
            self._cpu_of_gone += self._last_cpu.pop(gone, 0.0)
            del self._handles[gone]
        reading.cpu_s += self._cpu_of_gone  # CPU used stays counted when a worker exits
        return reading if reading.processes else None


def _count_fds(pid: int) -> tuple[int, int]:
    """(open fds, of which sockets), from /proc without resolving connections (cheap)."""
    directory = f"/proc/{pid}/fd"
    try:
        names = os.listdir(directory)
    except OSError:
        return 0, 0
    sockets = 0
    for name in names:
        with contextlib.suppress(OSError):
            if os.readlink(f"{directory}/{name}").startswith("socket:"):
                sockets += 1
    return len(names), sockets


@dataclass
class AppReading:
    tasks: int | None = None
    connections: int | None = None
    cache_entries: int | None = None
    cache_bytes: int | None = None
    heap: int | None = None
    malloc: int | None = None  # bytes in use by the C allocator (glibc mallinfo2)
    rss: int | None = None  # the app's own view, used by the remote backend
    container_working_set: int | None = None


def _mb(value: Any) -> int | None:
    return int(float(value) * MIB) if isinstance(value, int | float) else None


#: the stats answer's tables, read as objects; anything else there is another shape
_TABLES = ("process", "container", "python_heap", "native_heap")
_COUNTS = ("active_tasks", "active_connections", "cached_objects", "cached_bytes")


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_app_stats(data: dict[str, Any]) -> AppReading:
    """Reads the resume_api stats shape (and services that follow its names). A field of
    another shape reads as not measured (`shape_problems` names it), never as an error."""
    process, container = _table(data, "process"), _table(data, "container")
    heap, native = _table(data, "python_heap"), _table(data, "native_heap")
    return AppReading(
        tasks=_count(data.get("active_tasks")),
        connections=_count(data.get("active_connections")),
        cache_entries=_count(data.get("cached_objects")),
        cache_bytes=_count(data.get("cached_bytes")),
        heap=_mb(heap.get("traced_mb")) if heap.get("tracing") else None,
        malloc=_count(native.get("in_use_bytes")),
        rss=_mb(process.get("rss_mb")),
        container_working_set=_mb(container.get("working_set_mb")),
    )


def shape_problems(data: dict[str, Any]) -> list[str]:
    """The fields of a stats answer that are there but not of the shape parse_app_stats reads."""
    problems = [
        f"{key!r} is {type(data[key]).__name__}, not an object"
        for key in _TABLES
        if key in data and data[key] is not None and not isinstance(data[key], dict)
    ]
    problems += [
        f"{key!r} is {type(data[key]).__name__}, not a count"
        for key in _COUNTS
        if key in data and data[key] is not None and _count(data[key]) is None
    ]
    return problems


def refusal(status: int, *, key_sent: bool) -> str | None:
    """What a 401 or 403 from a memory endpoint means, in words a run can show; None else."""
    if status == 401:
        why = "the API key sent was refused" if key_sent else "it wants an API key, none was sent"
        return f"HTTP 401 unauthorized: {why}"
    if status == 403:
        return (
            "HTTP 403 forbidden: the app keeps its memory endpoints closed (the bundled "
            "service opens them with MEMORY_ENDPOINTS_ENABLED=true)"
        )
    return None


class AppStats:
    """GET of the app's stats endpoint, with a short timeout (a slow app must not stall us).

    `last_problem` keeps why the latest failed read failed (a success does not clear it), so
    the run can tell once why the app series are empty instead of leaving them blank."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self._key_sent = bool(headers)
        self.client = httpx.Client(timeout=2.0, headers=headers or {})
        self.failures = 0
        self.last_problem: str | None = None

    def read(self) -> AppReading | None:
        try:
            response = self.client.get(self.url)
            status = response.status_code
            if not response.is_success:
                self.failures += 1
                self.last_problem = refusal(status, key_sent=self._key_sent) or f"HTTP {status}"
                return None
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            self.failures += 1
            self.last_problem = f"{type(exc).__name__}: {exc}"
            return None
        data = body.get("data", body) if isinstance(body, dict) else None
        if not isinstance(data, dict):
            self.failures += 1
            self.last_problem = "its stats answer is not a JSON object"
            return None
        problems = shape_problems(data)
        if problems:
            self.last_problem = "its stats answer has another shape: " + "; ".join(problems)
        return parse_app_stats(data)

    def close(self) -> None:
        self.client.close()


#: /proc/<pid>/limits rows the analysis holds a resource series against, by run.json key
LIMIT_ROWS = {"nofile": "Max open files", "nproc": "Max processes"}


def parse_limits(text: str) -> dict[str, int | None]:
    """The soft limits of /proc/<pid>/limits (the soft one is what the kernel enforces; the
    hard one only caps raising it): None for "unlimited" or a row not there."""
    found: dict[str, int | None] = dict.fromkeys(LIMIT_ROWS)
    for line in text.splitlines():
        for key, row in LIMIT_ROWS.items():
            if line.startswith(row):
                soft = line[len(row) :].split()[:1]
                found[key] = int(soft[0]) if soft and soft[0].isdigit() else None
    return found


def read_limits(pids: list[int]) -> dict[str, int | None]:
    """The target's open-files and processes limits, read once when it is healthy, so a
    series that climbs to its limit and stops there (the trend fit sees a plateau) is judged
    a leak. Of several processes the lowest (each process is held to its own); {} when no
    pid can be read (another user's process, a remote target)."""
    readings: list[dict[str, int | None]] = []
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/limits", encoding="utf-8") as f:
            readings.append(parse_limits(f.read()))
    if not readings:
        return {}
    found: dict[str, int | None] = {}
    for key in LIMIT_ROWS:
        known = [value for r in readings if (value := r[key]) is not None]
        found[key] = min(known) if known else None
    return found
