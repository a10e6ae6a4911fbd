"""The conversations a run has with the app's own memory endpoints: whether they answer valid
data (a checklist item), and the cleanup an operator would ask for once the load stops.

The app's API key goes in the headers of every such request, never in an event: events carry
the status and a problem that names the variable, not its value."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import httpx

from harness.rundir import RunDirectory
from harness.sample.probes import refusal
from harness.target.spec import MemoryEndpoints

#: after the load stops, what requests still in flight get to finish before the GC
IN_FLIGHT_SETTLE_S = 1.0


def memory_headers(
    endpoints: MemoryEndpoints,
    target_env: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The headers the memory endpoints want: the key from the env the harness gives the target,
    else from the harness's own environment (a local target inherits it; a remote one was
    started by someone who exported it too). No variable named or no key: no headers."""
    name = endpoints.api_key_env
    if not name:
        return {}
    environ = os.environ if environ is None else environ
    key = target_env.get(name) or environ.get(name)
    return {endpoints.api_key_header: key} if key else {}


def _problem(status: int, endpoints: MemoryEndpoints, headers: Mapping[str, str]) -> str | None:
    """What a refusal means, for the event (the key's variable, never its value)."""
    problem = refusal(status, key_sent=bool(headers))
    if status == 401 and not headers and endpoints.api_key_env:
        problem = f"{problem}: set {endpoints.api_key_env} for the target"
    return problem


def _answer(response: httpx.Response, problem: str | None) -> dict[str, Any]:
    """A cleanup event's status, body and problem; the status is kept when the body is not
    JSON (a refusal in plain text still says 401)."""
    answer: dict[str, Any] = {"status": response.status_code}
    try:
        answer["answer"] = response.json() if response.content else {}
    except ValueError as exc:
        answer["error"] = f"the answer is not JSON ({exc})"
    if problem:
        answer["problem"] = problem
    return answer


def ask_cleanup(
    run: RunDirectory,
    url: str,
    endpoints: MemoryEndpoints,
    sample_interval_s: float,
    *,
    headers: Mapping[str, str] | None = None,
    clear_cache: bool = True,
) -> None:
    """The app's GC, then its clear-cache. The load has just stopped: the requests still in
    flight finish first, and between the GC and the clear-cache the sampler takes a sample or
    two of what the collection left, which the verdict reads as what is kept
    (`harness/analyze/kept.py`). Between the cycles of a run the caches stay (`clear_cache`
    False): a cache cleared there would hide the growth the next cycle is judged on."""
    headers = dict(headers or {})
    time.sleep(IN_FLIGHT_SETTLE_S)
    asked = (("gc", endpoints.gc), ("clear-cache", endpoints.clear_cache if clear_cache else None))
    for name, path in asked:
        if not path:
            continue
        sent_at = round(time.time(), 3)
        try:
            response = httpx.post(url + path, timeout=30, headers=headers)
        except httpx.HTTPError as exc:
            run.event("cleanup", action=name, sent_at=sent_at, error=str(exc))
        else:
            answer = _answer(response, _problem(response.status_code, endpoints, headers))
            run.event("cleanup", action=name, sent_at=sent_at, **answer)
        if name == "gc":
            time.sleep(max(1.0, 2.5 * sample_interval_s))


def check_monitoring(
    run: RunDirectory,
    url: str,
    endpoints: MemoryEndpoints,
    *,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Each read-only memory endpoint answers valid data (a checklist item)."""
    headers = dict(headers or {})
    expected = {"health": "status", "stats": "process"}
    for name, path in (("health", endpoints.health), ("stats", endpoints.stats)):
        if not path:
            continue
        problem = None
        status = None
        try:
            response = httpx.get(url + path, timeout=10, headers=headers)
            status = response.status_code
            data = response.json().get("data") if response.is_success else None
            if status != 200:
                problem = _problem(status, endpoints, headers) or f"HTTP {status}"
            elif not isinstance(data, dict) or expected[name] not in data:
                problem = f"no '{expected[name]}' in its data"
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            problem = type(exc).__name__
        run.event(
            "monitoring-check", endpoint=path, status=status, valid=not problem, problem=problem
        )
