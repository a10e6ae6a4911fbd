"""What the service knows about its own memory: process RSS and, when it runs in a memory-limited
cgroup, the container's working set (usage minus inactive file), which is what Kubernetes and
Azure Container Apps act on."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import os
from dataclasses import dataclass
from pathlib import Path

import psutil

_UNLIMITED = 1 << 60
MIB = 1024 * 1024


@dataclass(frozen=True)
class ContainerMemory:
    usage_bytes: int
    working_set_bytes: int
    limit_bytes: int
    cgroup_version: int


def _own_cgroup_dirs(root: Path) -> list[tuple[int, Path]]:
    """Candidate memory cgroup directories of this process, v2 and v1, most specific first."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    found: list[tuple[int, Path]] = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "":
            found += [(2, root / relative), (2, root)]
        elif "memory" in controllers.split(","):
            found += [(1, root / "memory" / relative), (1, root / "memory")]
    return found


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return _UNLIMITED
    try:
        return int(text)
    except ValueError:
        return None


def _stat_value(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def container_memory(root: Path = Path("/sys/fs/cgroup")) -> ContainerMemory | None:
    """The limited cgroup this process runs in, or None when no limit is visible."""
    for version, directory in _own_cgroup_dirs(root):
        if version == 2:
            usage = _read_int(directory / "memory.current")
            limit = _read_int(directory / "memory.max")
            inactive_key = "inactive_file"
        else:
            usage = _read_int(directory / "memory.usage_in_bytes")
            limit = _read_int(directory / "memory.limit_in_bytes")
            inactive_key = "total_inactive_file"
        if usage is None or limit is None or limit >= _UNLIMITED:
            continue
        inactive = _stat_value(directory / "memory.stat", inactive_key)
        return ContainerMemory(usage, max(usage - inactive, 0), limit, version)
    return None


def process_memory() -> dict[str, float | int]:
    process = psutil.Process()
    info = process.memory_info()
    with process.oneshot():
        return {
            "rss_mb": round(info.rss / MIB, 2),
            "vms_mb": round(info.vms / MIB, 2),
            "open_fds": process.num_fds(),
            "threads": process.num_threads(),
            "sockets": _open_sockets(),
        }


def _open_sockets() -> int:
    """Sockets among this process's fds. psutil's net_connections would parse the network
    namespace's whole /proc/net tables on every poll (host-wide with host networking): ~8 ms of
    CPU per call here, most of what a stats poll cost the service."""
    directory = "/proc/self/fd"
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    sockets = 0
    for name in names:
        with contextlib.suppress(OSError):
            sockets += os.readlink(f"{directory}/{name}").startswith("socket:")
    return sockets


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, opened once: every dlopen/dlsym is seen by native profilers (memray
    starts a new generation of its memory map on each, and its own memory grows with every
    allocation site touched afterwards), and the stats endpoint is polled every second."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    with contextlib.suppress(AttributeError):
        libc.mallinfo2.restype = _MallInfo2
    return libc


def native_heap() -> dict[str, int] | None:
    """glibc's own count of bytes handed out by malloc and not freed (mallinfo2). Unlike RSS
    it moves the moment native memory leaks, even while the leak still fits in memory the
    allocator already holds; None where the C library has no mallinfo2 (musl, glibc < 2.33)."""
    libc = _libc()
    mallinfo2 = getattr(libc, "mallinfo2", None) if libc is not None else None
    if mallinfo2 is None:
        return None
    info = mallinfo2()
    return {
        "in_use_bytes": int(info.uordblks + info.hblkhd),
        "free_bytes": int(info.fordblks),
        "mmapped_bytes": int(info.hblkhd),
    }


def judged_memory_mb() -> tuple[float, str]:
    """The figure thresholds apply to: the container's working set if limited, else RSS."""
    container = container_memory()
    if container is not None:
        return container.working_set_bytes / MIB, "container_working_set"
    return psutil.Process().memory_info().rss / MIB, "process_rss"


def release_memory() -> dict[str, int]:
    """Full collection, then give freed heap back to the OS where glibc allows it."""
    collected = gc.collect()
    trimmed = 0
    libc = _libc()
    with contextlib.suppress(AttributeError):
        trimmed = int(libc.malloc_trim(0)) if libc is not None else 0
    return {"objects_collected": collected, "malloc_trim_released": trimmed}
