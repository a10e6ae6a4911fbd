"""Asking the target to clean up after a load: its own GC endpoint where it has one, else the
heap agent's collection (every Python target has the agent), then its clear-cache endpoint.
Either way the run records one `cleanup` event per action, and the verdict reads the samples
between the GC and what follows as what the service kept (`harness/analyze/kept.py`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from harness.analyze.kept import AGENT
from harness.run.app_endpoints import IN_FLIGHT_SETTLE_S, ask_cleanup
from harness.rundir import RunDirectory
from harness.target.spec import MemoryEndpoints


def request_cleanup(
    run: RunDirectory,
    url: str,
    endpoints: MemoryEndpoints | None,
    sample_interval_s: float,
    *,
    headers: Mapping[str, str] | None = None,
    agent_gc: Callable[[], dict[str, Any] | None] | None = None,
    clear_cache: bool = True,
) -> None:
    """`agent_gc`: the agent's collection, for a target without a GC endpoint (None: not a
    Python target)."""
    if endpoints is not None and endpoints.gc:
        ask_cleanup(
            run, url, endpoints, sample_interval_s, headers=headers, clear_cache=clear_cache
        )
        return
    if agent_gc is not None:
        time.sleep(IN_FLIGHT_SETTLE_S)  # the requests still in flight finish first
        sent_at = round(time.time(), 3)
        answer = agent_gc()
        if answer is None:
            run.event("cleanup", action="gc", via=AGENT, sent_at=sent_at, error="no answer")
        else:
            run.event("cleanup", action="gc", via=AGENT, sent_at=sent_at, answer={"data": answer})
            time.sleep(max(1.0, 2.5 * sample_interval_s))  # samples of what it left
    if endpoints is not None and endpoints.clear_cache and clear_cache:
        only_clear = endpoints.model_copy(update={"gc": None})
        ask_cleanup(run, url, only_clear, sample_interval_s, headers=headers)
