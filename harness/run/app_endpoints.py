"""The conversations a run has with the app's own memory endpoints: whether they answer valid
data (a checklist item), and the cleanup an operator would ask for once the load stops."""

from __future__ import annotations

import time

import httpx

from harness.rundir import RunDirectory
from harness.target.spec import MemoryEndpoints

#: after the load stops, what requests still in flight get to finish before the GC
IN_FLIGHT_SETTLE_S = 1.0


def ask_cleanup(
    run: RunDirectory, url: str, endpoints: MemoryEndpoints, sample_interval_s: float
) -> None:
    """The app's GC, then its clear-cache. The load has just stopped: the requests still in
    flight finish first, and between the GC and the clear-cache the sampler takes a sample or
    two of what the collection left, which the verdict reads as what is kept
    (`harness/analyze/kept.py`)."""
    time.sleep(IN_FLIGHT_SETTLE_S)
    for name, path in (("gc", endpoints.gc), ("clear-cache", endpoints.clear_cache)):
        if not path:
            continue
        sent_at = round(time.time(), 3)
        try:
            response = httpx.post(url + path, timeout=30)
            body = response.json() if response.content else {}
            run.event(
                "cleanup", action=name, sent_at=sent_at, status=response.status_code, answer=body
            )
        except (httpx.HTTPError, ValueError) as exc:
            run.event("cleanup", action=name, sent_at=sent_at, error=str(exc))
        if name == "gc":
            time.sleep(max(1.0, 2.5 * sample_interval_s))


def check_monitoring(run: RunDirectory, url: str, endpoints: MemoryEndpoints) -> None:
    """Each read-only memory endpoint answers valid data (a checklist item)."""
    expected = {"health": "status", "stats": "process"}
    for name, path in (("health", endpoints.health), ("stats", endpoints.stats)):
        if not path:
            continue
        problem = None
        status = None
        try:
            response = httpx.get(url + path, timeout=10)
            status = response.status_code
            data = response.json().get("data") if response.is_success else None
            if status != 200:
                problem = f"HTTP {status}"
            elif not isinstance(data, dict) or expected[name] not in data:
                problem = f"no '{expected[name]}' in its data"
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            problem = type(exc).__name__
        run.event(
            "monitoring-check", endpoint=path, status=status, valid=not problem, problem=problem
        )
