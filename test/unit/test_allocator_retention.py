"""The allocator-retention switch: RSS grows while malloc's bytes in use stay bounded, and the
allocator settings the harness's diagnosis reruns with make the growth go away. Each case runs
the pattern in a fresh interpreter, so glibc's thresholds start from their defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from resume_api.leaks import LEAKS, LeakInjector, parse_leaks
from resume_api.retention import RESULT_BYTES, AllocatorRetention

ROOT = Path(__file__).resolve().parents[2]
MIB = 1 << 20
#: 200 buffers of 256 KiB: 50 MiB retained under glibc's defaults
PROBE = """
import ctypes, json, psutil
from resume_api.memory import native_heap
from resume_api.retention import AllocatorRetention

def rss(): return psutil.Process().memory_info().rss
retention = AllocatorRetention()
retention.add(1)  # starts the worker's arena before the baseline
assert retention.drain()
rss0, used0 = rss(), native_heap()["in_use_bytes"]
for _ in range(200 * 64):
    retention.add(4096)  # 4 KiB per request, as the switch at its default rate
    junk = [bytes(n) for n in (300, 5000, 40000)]  # the main thread's own churn
assert retention.drain()
grown, used = rss() - rss0, native_heap()["in_use_bytes"] - used0
ctypes.CDLL(None).malloc_trim(0)
print(json.dumps({"rss": grown, "in_use": used, "after_trim": rss() - rss0,
                  "kept": retention.kept, "buffers": retention.buffers}))
"""


def probe(env: dict[str, str] | None = None) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, int] = json.loads(done.stdout)
    return result


def test_rss_grows_by_the_rate_while_bytes_in_use_stay_flat() -> None:
    found = probe()
    assert found["buffers"] == 200
    # 199 holes of 256 KiB stay resident (the last buffer is still in use)
    assert found["rss"] > 40 * MIB, found
    assert found["in_use"] < 2 * MIB, found
    # not a leak: malloc_trim(0), as the service's GC endpoint calls it, gives the pages back
    assert found["after_trim"] < 0.25 * found["rss"], found


@pytest.mark.parametrize(
    "env",
    [
        {"MALLOC_MMAP_THRESHOLD_": "131072"},
        {
            "MALLOC_ARENA_MAX": "2",
            "MALLOC_MMAP_THRESHOLD_": "131072",
            "MALLOC_TRIM_THRESHOLD_": "131072",
        },
    ],
)
def test_a_fixed_mmap_threshold_makes_the_growth_go_away(env: dict[str, str]) -> None:
    found = probe(env)
    assert found["buffers"] == 200
    # each buffer is its own mapping, shrunk to one page by realloc: ~0.8 MiB for 200
    assert found["rss"] < 5 * MIB, found


def test_the_ring_bounds_what_is_kept() -> None:
    retention = AllocatorRetention(scratch_bytes=64 << 10, ring=8)
    try:
        for _ in range(40):
            retention.add(64 << 10)
        assert retention.drain()
        assert retention.buffers == 40
        assert retention.kept == 8
        assert retention.stats()["in_use_bytes"] == 8 * RESULT_BYTES + (64 << 10)
    finally:
        retention.close()


def test_the_switch_hands_every_request_its_rate() -> None:
    assert LEAKS["allocator-retention"][1] == 0  # no unit cost: the worker keeps the balance
    injector = LeakInjector(parse_leaks("allocator-retention:1KiB"))
    retention = injector.retention
    assert retention is not None
    try:
        for _ in range(1000):
            injector.tick()
            due = injector.take("allocator-retention")
            assert due == 1024
            retention.add(due)
        assert retention.drain()
        assert retention.buffers == 1000 * 1024 // retention.scratch_bytes
        assert injector.stats()["retention"] == retention.stats()
    finally:
        injector.close()
