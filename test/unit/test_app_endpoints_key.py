"""The harness sends the target's API key to its memory endpoints, says so when an endpoint
refuses (401/403), and never writes the key anywhere, against a tiny loopback app."""

from __future__ import annotations

import json
import threading
import time
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.run import app_endpoints
from harness.run.app_endpoints import ask_cleanup, check_monitoring, memory_headers
from harness.rundir import EVENTS_JSONL, RunDirectory, read_events
from harness.sample.probes import AppStats
from harness.target.spec import MemoryEndpoints, TargetSpec

KEY = "s3cr3t-value-never-written"
ENDPOINTS = MemoryEndpoints()


class _KeyedApp(BaseHTTPRequestHandler):
    """Answers the bundled service's memory paths only with the right X-API-Key; `closed`
    paths answer 403 like memory endpoints left disabled."""

    closed: frozenset[str] = frozenset()

    def _answer(self) -> None:
        body: dict[str, Any]
        if self.headers.get("X-API-Key") != KEY:
            status, body = 401, {"error": {"message": "missing or invalid X-API-Key header"}}
        elif self.path in self.closed:
            status, body = 403, {"error": {"message": "memory endpoints are disabled"}}
        else:
            data = {"status": "healthy", "process": {"rss_mb": 50.0}, "active_tasks": 3}
            status, body = 200, {"success": True, "data": data}
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def app() -> Iterator[str]:
    yield from _serve(_KeyedApp)


@pytest.fixture
def closed_app() -> Iterator[str]:
    class Closed(_KeyedApp):
        closed = frozenset({ENDPOINTS.stats or "", ENDPOINTS.gc or ""})

    yield from _serve(Closed)


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunDirectory]:
    # ask_cleanup waits for requests in flight and for samples after the GC: not here
    no_wait = types.SimpleNamespace(time=time.time, sleep=lambda _s: None)
    monkeypatch.setattr(app_endpoints, "time", no_wait)
    directory = RunDirectory.create(tmp_path, "key", {})
    yield directory
    directory.close()


def _events(run: RunDirectory, kind: str) -> list[dict[str, Any]]:
    return [e for e in read_events(run.path) if e["event"] == kind]


def _no_key_written(run: RunDirectory) -> None:
    for path in run.path.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(errors="replace"), path


def test_headers_come_from_the_target_env_first_then_the_harness_environment() -> None:
    env_name = "CONTAINER_APP_API_KEY"
    assert memory_headers(ENDPOINTS, {env_name: KEY}, {env_name: "other"}) == {"X-API-Key": KEY}
    assert memory_headers(ENDPOINTS, {}, {env_name: KEY}) == {"X-API-Key": KEY}
    assert memory_headers(ENDPOINTS, {env_name: ""}, {}) == {}
    custom = MemoryEndpoints(api_key_env="MY_KEY", api_key_header="Authorization")
    assert memory_headers(custom, {"MY_KEY": "Bearer x"}, {}) == {"Authorization": "Bearer x"}
    assert memory_headers(MemoryEndpoints(api_key_env=None), {env_name: KEY}, {}) == {}


def test_the_bundled_target_opens_its_memory_endpoints() -> None:
    assert TargetSpec().env["MEMORY_ENDPOINTS_ENABLED"] == "true"


def test_without_the_key_the_monitoring_check_says_401_and_what_to_set(
    app: str, run: RunDirectory
) -> None:
    check_monitoring(run, app, ENDPOINTS)
    checks = _events(run, "monitoring-check")
    assert [c["status"] for c in checks] == [401, 401] and not any(c["valid"] for c in checks)
    assert all(c["problem"].startswith("HTTP 401") for c in checks)
    assert all("none was sent" in c["problem"] for c in checks)
    assert all("set CONTAINER_APP_API_KEY" in c["problem"] for c in checks)


def test_with_the_headers_the_monitoring_check_passes(app: str, run: RunDirectory) -> None:
    headers = memory_headers(ENDPOINTS, {"CONTAINER_APP_API_KEY": KEY}, {})
    check_monitoring(run, app, ENDPOINTS, headers=headers)
    checks = _events(run, "monitoring-check")
    assert [(c["status"], c["valid"], c["problem"]) for c in checks] == [(200, True, None)] * 2
    _no_key_written(run)


def test_a_wrong_key_is_told_apart_from_none(app: str, run: RunDirectory) -> None:
    check_monitoring(run, app, ENDPOINTS, headers={"X-API-Key": "wrong"})
    assert all("was refused" in c["problem"] for c in _events(run, "monitoring-check"))


def test_cleanup_records_the_refusal_and_then_the_answer(app: str, run: RunDirectory) -> None:
    ask_cleanup(run, app, ENDPOINTS, 0.2)
    refused = _events(run, "cleanup")
    assert [(e["action"], e["status"]) for e in refused] == [("gc", 401), ("clear-cache", 401)]
    assert all("HTTP 401" in e["problem"] for e in refused)
    headers = memory_headers(ENDPOINTS, {}, {"CONTAINER_APP_API_KEY": KEY})
    ask_cleanup(run, app, ENDPOINTS, 0.2, headers=headers)
    answered = _events(run, "cleanup")[2:]
    assert [e["status"] for e in answered] == [200, 200]
    assert not any("problem" in e for e in answered)
    _no_key_written(run)
    assert KEY not in (run.path / EVENTS_JSONL).read_text()


def test_a_closed_endpoint_says_403_and_how_it_opens(closed_app: str, run: RunDirectory) -> None:
    headers = {"X-API-Key": KEY}
    check_monitoring(run, closed_app, ENDPOINTS, headers=headers)
    ask_cleanup(run, closed_app, ENDPOINTS, 0.2, headers=headers)
    stats = [e for e in _events(run, "monitoring-check") if e["endpoint"] == ENDPOINTS.stats]
    gc = [e for e in _events(run, "cleanup") if e["action"] == "gc"]
    for event in (*stats, *gc):
        assert event["status"] == 403 and "MEMORY_ENDPOINTS_ENABLED=true" in event["problem"]
    _no_key_written(run)


def test_app_stats_remembers_why_it_read_nothing(app: str) -> None:
    url = app + (ENDPOINTS.stats or "")
    without = AppStats(url)
    try:
        assert without.last_problem is None and without.read() is None
        assert without.failures == 1 and (without.last_problem or "").startswith("HTTP 401")
    finally:
        without.close()
    keyed = AppStats(url, headers=memory_headers(ENDPOINTS, {"CONTAINER_APP_API_KEY": KEY}, {}))
    try:
        reading = keyed.read()
        assert reading is not None and reading.tasks == 3 and reading.rss == 50 << 20
        assert keyed.failures == 0 and keyed.last_problem is None
    finally:
        keyed.close()


def test_app_stats_names_a_connection_failure() -> None:
    stats = AppStats("http://127.0.0.1:9/api/v1/memory/stats")  # the discard port: refused
    try:
        assert stats.read() is None and "ConnectError" in (stats.last_problem or "")
    finally:
        stats.close()


def test_between_cycles_the_app_collects_but_keeps_its_caches(app: str, run: RunDirectory) -> None:
    """A cycles run asks for GC only in its idles: a clear-cache there reset the bundled
    service's unbounded cache every cycle, and a leak fitted across the cycles never showed."""
    ask_cleanup(run, app, ENDPOINTS, 0.2, headers={"X-API-Key": KEY}, clear_cache=False)
    assert [(e["action"], e["status"]) for e in _events(run, "cleanup")] == [("gc", 200)]
