"""Each leak switch of the bundled service, driven for several hundred requests, shows growth
in the place its pattern should show it; with no switch on, the same load stays flat.

Readings are taken after a full collection (the service's own GC endpoint), with tracemalloc
on (1 frame) so the Python heap is measured, and the service in a 2 GiB memory cgroup so the
container's working set is measured too."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.service import ServiceProcess, api_requests, drive

from harness.target.cgroup_fs import Cgroup
from harness.upstream.process import StubProcess

pytestmark = pytest.mark.memory

WARM_UP = 300
REQUESTS = 500
RATE = 16 * 1024
EXPECTED = REQUESTS * RATE  # bytes a switch at RATE leaks over the measured window
KIB = 1024
MIB = 1024 * 1024

# The clean service's tolerance over REQUESTS requests after warm-up (measured over 2,000:
# heap within +-60 KiB, RSS within 100 KiB; a 16 KiB/request leak adds 8 MiB over 500).
CLEAN_HEAP_BYTES = 512 * KIB
CLEAN_RSS_BYTES = 2 * MIB
CLEAN_CGROUP_BYTES = 3 * MIB
CLEAN_FDS = 3
CLEAN_TASKS = 3


def _run(
    stub: StubProcess, tmp_path: Path, cgroup: Cgroup | None, leaks: str, windows: int = 1
) -> list[dict[str, float]]:
    """Readings after warm-up and after each measured window of REQUESTS requests."""
    env = {"RESUME_API_LEAKS": leaks, "PYTHONTRACEMALLOC": "1"}
    with ServiceProcess(stub.url, stub.api_key, tmp_path / "service.log", env, cgroup) as service:
        make = api_requests()
        statuses = drive(service.url, WARM_UP, make)
        readings = [service.reading()]
        for _ in range(windows):
            statuses += drive(service.url, REQUESTS, make)
            readings.append(service.reading())
        assert set(statuses) == {200}, f"{statuses}\n{service.log_tail()}"
    return readings


def _growth(readings: list[dict[str, float]], key: str) -> float:
    return readings[-1][key] - readings[-2][key]


def test_clean_service_stays_flat(stub: StubProcess, tmp_path: Path, cgroup: Cgroup | None) -> None:
    readings = _run(stub, tmp_path, cgroup, "", windows=2)
    growth = {key: _growth(readings, key) for key in readings[-1]}
    assert growth["heap"] < CLEAN_HEAP_BYTES, growth
    assert growth["rss"] < CLEAN_RSS_BYTES, growth
    assert growth["fds"] <= CLEAN_FDS, growth
    assert growth["tasks"] <= CLEAN_TASKS, growth
    if cgroup is not None:
        assert growth["cgroup"] < CLEAN_CGROUP_BYTES, growth


@pytest.mark.parametrize("leak", ["telemetry-buffer", "unbounded-cache", "latency-by-raw-path"])
def test_heap_leaks_grow_the_python_heap(
    stub: StubProcess, tmp_path: Path, cgroup: Cgroup | None, leak: str
) -> None:
    readings = _run(stub, tmp_path, cgroup, f"{leak}:{RATE}")
    heap = _growth(readings, "heap")
    assert 0.7 * EXPECTED < heap < 1.6 * EXPECTED, f"heap grew {heap / MIB:.2f} MiB"
    assert _growth(readings, "rss") > 0.7 * EXPECTED
    assert _growth(readings, "fds") <= CLEAN_FDS and _growth(readings, "tasks") <= CLEAN_TASKS


def test_task_accumulation_piles_up_tasks(
    stub: StubProcess, tmp_path: Path, cgroup: Cgroup | None
) -> None:
    readings = _run(stub, tmp_path, cgroup, f"task-accumulation:{RATE}")
    # One parked task per audit that finds debt due; with 8 requests in flight an audit can pay
    # the debt of several requests at once, so fewer tasks than requests, but their bytes add up.
    assert _growth(readings, "tasks") >= 0.5 * REQUESTS, readings
    assert _growth(readings, "heap") > 0.7 * EXPECTED


def test_unclosed_http_client_piles_up_sockets(
    stub: StubProcess, tmp_path: Path, cgroup: Cgroup | None
) -> None:
    # A client costs ~840 KiB, so a higher rate than the others: one client per ~9 requests.
    rate = 96 * KIB
    readings = _run(stub, tmp_path, cgroup, f"unclosed-http-client:{rate}")
    clients = REQUESTS * rate / (840 * KIB)
    assert _growth(readings, "fds") >= 0.5 * clients, readings
    assert _growth(readings, "rss") > 0.5 * REQUESTS * rate, readings


def test_native_malloc_grows_rss_but_not_the_heap(
    stub: StubProcess, tmp_path: Path, cgroup: Cgroup | None
) -> None:
    readings = _run(stub, tmp_path, cgroup, f"native-malloc:{RATE}")
    rss = _growth(readings, "rss")
    assert rss > 0.8 * EXPECTED, f"RSS grew {rss / MIB:.2f} MiB"
    assert _growth(readings, "heap") < CLEAN_HEAP_BYTES  # tracemalloc cannot see it


def test_shm_spill_is_charged_to_the_container_only(
    stub: StubProcess, tmp_path: Path, cgroup: Cgroup | None
) -> None:
    if cgroup is None:
        pytest.skip("needs a memory cgroup to see tmpfs pages charged to the container")
    readings = _run(stub, tmp_path, cgroup, f"shm-spill:{RATE}")
    assert _growth(readings, "cgroup") > 0.7 * EXPECTED
    assert _growth(readings, "rss") < CLEAN_RSS_BYTES
    assert _growth(readings, "heap") < CLEAN_HEAP_BYTES
