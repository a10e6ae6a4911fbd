"""Memory endpoints: stats, GC, cache clearing, health against thresholds, and Python heap
snapshots for the harness. All but health answer 403 unless MEMORY_ENDPOINTS_ENABLED is set:
off by default, whatever ENVIRONMENT says, so a deployment has to ask for them."""

from __future__ import annotations

import contextlib
import os
import re
import tracemalloc
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from resume_api.envelope import ApiError, envelope
from resume_api.memory import (
    MIB,
    container_memory,
    judged_memory_mb,
    native_heap,
    process_memory,
    release_memory,
)
from resume_api.resources import ResourceManager

# a file name, not a path: no separator, and no leading dot (no "..", no hidden files)
_SNAPSHOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_SNAPSHOT_SUFFIX = ".tracemalloc"


def _resources(request: Request) -> ResourceManager:
    manager: ResourceManager = request.app.state.resources
    return manager


def _enabled(request: Request) -> None:
    """Fails closed: only an explicit MEMORY_ENDPOINTS_ENABLED opens the endpoints."""
    if not _resources(request).settings.memory_endpoints_enabled:
        raise ApiError(
            403,
            "FORBIDDEN",
            "memory endpoints are disabled (set MEMORY_ENDPOINTS_ENABLED=true to enable them)",
        )


router = APIRouter(prefix="/api/v1/memory")
guarded = APIRouter(prefix="/api/v1/memory", dependencies=[Depends(_enabled)])


def _container() -> dict[str, Any] | None:
    container = container_memory()
    if container is None:
        return None
    return {
        "usage_mb": round(container.usage_bytes / MIB, 2),
        "working_set_mb": round(container.working_set_bytes / MIB, 2),
        "limit_mb": round(container.limit_bytes / MIB, 2),
        "cgroup_version": container.cgroup_version,
    }


def _heap() -> dict[str, Any]:
    if not tracemalloc.is_tracing():
        return {"tracing": False}
    current, peak = tracemalloc.get_traced_memory()
    return {
        "tracing": True,
        "frames": tracemalloc.get_traceback_limit(),
        "traced_mb": round(current / MIB, 2),
        "traced_peak_mb": round(peak / MIB, 2),
    }


@router.get("/health")
async def memory_health(request: Request) -> dict[str, Any]:
    """Stays open (behind the API key only): it is what monitoring polls for readiness, it
    changes nothing and tells no more than a status, one total and the configured thresholds."""
    settings = _resources(request).settings
    used_mb, basis = judged_memory_mb()
    status = "healthy"
    if used_mb >= settings.memory_critical_mb:
        status = "critical"
    elif used_mb >= settings.memory_warning_mb:
        status = "warning"
    return envelope(
        {
            "status": status,
            "memory_mb": round(used_mb, 2),
            "basis": basis,
            "thresholds_mb": {
                "warning": settings.memory_warning_mb,
                "critical": settings.memory_critical_mb,
                "limit": settings.container_limit_mb,
            },
            "usage_percent_of_limit": round(100.0 * used_mb / settings.container_limit_mb, 1),
        }
    )


@guarded.get("/stats")
async def memory_stats(request: Request) -> dict[str, Any]:
    resources = _resources(request)
    app_stats = resources.stats()
    return envelope(
        {
            "process": process_memory(),
            "container": _container(),
            "python_heap": _heap(),
            "native_heap": native_heap(),
            "active_connections": app_stats["llm_clients"],
            **app_stats,
        }
    )


@guarded.post("/gc")
async def collect_garbage(request: Request) -> dict[str, Any]:
    before_mb, basis = judged_memory_mb()
    released = release_memory()
    after_mb, _ = judged_memory_mb()
    return envelope(
        {
            "basis": basis,
            "before_mb": round(before_mb, 2),
            "after_mb": round(after_mb, 2),
            "freed_mb": round(before_mb - after_mb, 2),
            **released,
        }
    )


@guarded.post("/clear-cache")
async def clear_cache(request: Request) -> dict[str, Any]:
    return envelope({"cleared": _resources(request).clear_caches()})


@guarded.get("/heap")
async def heap_top(
    limit: int = Query(default=25, ge=1, le=500),
    group_by: str = Query(default="lineno", pattern="^(lineno|traceback|filename)$"),
) -> dict[str, Any]:
    """Top allocation sites now; the harness diffs successive answers or snapshot files."""
    heap = _heap()
    if not heap["tracing"]:
        return envelope(
            {**heap, "top": []},
            warning={
                "has_warning": True,
                "message": "tracemalloc is not tracing",
                "suggestion": "start with PYTHONTRACEMALLOC=N or POST /api/v1/memory/heap/start",
            },
        )
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    top = []
    for stat in snapshot.statistics(group_by)[:limit]:
        frame = stat.traceback[0]
        top.append(
            {
                "file": frame.filename,
                "line": frame.lineno,
                "size_bytes": stat.size,
                "count": stat.count,
                "traceback": [f"{f.filename}:{f.lineno}" for f in stat.traceback],
            }
        )
    return envelope({**heap, "top": top})


@guarded.post("/heap/start")
async def heap_start(frames: int = Query(default=25, ge=1, le=100)) -> dict[str, Any]:
    if not tracemalloc.is_tracing():
        tracemalloc.start(frames)
    return envelope(_heap())


@guarded.post("/heap/snapshot")
async def heap_snapshot(
    request: Request, name: str = Query(pattern=_SNAPSHOT_NAME.pattern)
) -> dict[str, Any]:
    """Dump a tracemalloc snapshot into the one snapshot directory, bounded in count and size.

    Past RESUME_API_SNAPSHOT_MAX_FILES a new name is refused (409), never made room for:
    a heap diff needs the first snapshot, and whoever reads the files can delete them. A
    snapshot over RESUME_API_SNAPSHOT_MAX_BYTES is removed and refused (413). Reusing a name
    replaces that file. So the directory holds at most max_files x max_bytes."""
    settings = _resources(request).settings
    if not tracemalloc.is_tracing():
        raise ApiError(409, "NOT_TRACING", "tracemalloc is not tracing; start it first")
    directory = settings.snapshot_dir
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"{name}{_SNAPSHOT_SUFFIX}"
    if path.resolve().parent != directory.resolve():  # the pattern already rules this out
        raise ApiError(400, "BAD_NAME", "a snapshot name must be a plain file name")
    kept = [p for p in directory.glob(f"*{_SNAPSHOT_SUFFIX}") if p.is_file()]
    if path not in kept and len(kept) >= settings.snapshot_max_files:
        raise ApiError(
            409,
            "SNAPSHOT_LIMIT",
            f"{len(kept)} snapshots are kept in {directory}, the most allowed "
            f"(RESUME_API_SNAPSHOT_MAX_FILES={settings.snapshot_max_files}): "
            "remove some, or reuse a name",
        )
    partial = directory / f".{name}{_SNAPSHOT_SUFFIX}.partial"
    try:
        tracemalloc.take_snapshot().dump(str(partial))
        size = partial.stat().st_size
        if size > settings.snapshot_max_bytes:
            raise ApiError(
                413,
                "SNAPSHOT_TOO_LARGE",
                f"the snapshot is {size} bytes, over RESUME_API_SNAPSHOT_MAX_BYTES="
                f"{settings.snapshot_max_bytes}; nothing was kept (fewer frames make it smaller)",
            )
        os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return envelope({"path": str(path), "size_bytes": size, **_heap()})
