"""The heap agent collects garbage when asked (issue 23: GC for every Python target), without
starting tracemalloc, and the run's cleanup falls back to it where the target has no GC
endpoint; the kept check and the checklist read its answer as they read an endpoint's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.analyze.checklist import check_gc
from harness.analyze.kept import after_collection
from harness.run import cleanup
from harness.rundir import RunDirectory, read_events
from harness.sample.heap import HeapSnapshots, agent_env
from harness.target.spec import MemoryEndpoints

CHILD = """
import gc, sys, time, tracemalloc
gc.disable()
for _ in range(5000):
    cell = []
    cell.append(cell)  # cyclic garbage, left for a collection
print("ready", flush=True)
sys.stdin.readline()
print("tracing" if tracemalloc.is_tracing() else "not tracing", flush=True)
"""


@pytest.fixture
def child(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], HeapSnapshots]]:
    snapshots = HeapSnapshots(tmp_path / "heap")
    env = {**os.environ, **agent_env(snapshots.heap_dir, 0, os.environ.get("PYTHONPATH"))}
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    try:
        yield process, snapshots
    finally:
        process.kill()
        process.wait()


def test_the_agent_collects_without_tracing(
    child: tuple[subprocess.Popen[str], HeapSnapshots],
) -> None:
    process, snapshots = child

    def deliver() -> bool:
        os.kill(process.pid, signal.SIGUSR2)
        return True

    answer = snapshots.collect(deliver, timeout_s=10)
    assert answer is not None and answer["objects_collected"] >= 5000, answer
    assert answer["seconds"] >= 0
    process.stdin.write("\n")  # type: ignore[union-attr]
    process.stdin.flush()  # type: ignore[union-attr]
    assert process.stdout.readline().strip() == "not tracing"  # type: ignore[union-attr]
    assert not (snapshots.heap_dir / "tracing").exists()


def test_a_target_that_cannot_be_signalled_gives_no_answer(tmp_path: Path) -> None:
    assert HeapSnapshots(tmp_path / "heap").collect(lambda: False) is None


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunDirectory]:
    monkeypatch.setattr(cleanup.time, "sleep", lambda _s: None)
    directory = RunDirectory.create(tmp_path, "agent", {})
    yield directory
    directory.close()


def _cleanups(run: RunDirectory) -> list[dict[str, Any]]:
    return [e for e in read_events(run.path) if e["event"] == "cleanup"]


NO_ENDPOINTS = MemoryEndpoints(stats=None, health=None, gc=None, clear_cache=None)


def test_without_a_gc_endpoint_the_cleanup_asks_the_agent(run: RunDirectory) -> None:
    answer = {"objects_collected": 812, "malloc_trim_released": 1, "seconds": 0.01}
    cleanup.request_cleanup(run, "http://127.0.0.1:9", NO_ENDPOINTS, 0.5, agent_gc=lambda: answer)
    (event,) = _cleanups(run)
    assert (event["action"], event["via"], event["answer"]["data"]) == ("gc", "agent", answer)
    # the kept check reads the samples after it, as after an endpoint's GC
    rows = [{"time": str(event["time"] + 0.5), "phase": "cleanup"}]
    assert after_collection(rows, _cleanups(run), window_end=event["time"] - 5) == rows
    load = [{"phase": "load-1", "container_anon": str(100 << 20)}] * 4
    cleaned = [{"phase": "cleanup", "container_anon": str(90 << 20)}] * 4
    item = check_gc(load + cleaned, _cleanups(run))
    assert item.status == "PASS", item
    assert item.evidence.startswith("the heap agent's gc.collect() collected 812 objects")


def test_an_agent_that_does_not_answer_is_a_skip_not_the_services_fail(
    run: RunDirectory,
) -> None:
    cleanup.request_cleanup(run, "http://127.0.0.1:9", None, 0.5, agent_gc=lambda: None)
    (event,) = _cleanups(run)
    assert event["error"] == "no answer"
    assert after_collection([], _cleanups(run), window_end=0.0) == []
    item = check_gc([], _cleanups(run))
    assert item.status == "SKIP" and "did not answer" in item.evidence, item


def test_a_target_that_is_not_python_and_has_no_gc_endpoint_is_not_asked(
    run: RunDirectory,
) -> None:
    cleanup.request_cleanup(run, "http://127.0.0.1:9", NO_ENDPOINTS, 0.5, agent_gc=None)
    assert _cleanups(run) == []
    assert check_gc([], []).status == "SKIP"
