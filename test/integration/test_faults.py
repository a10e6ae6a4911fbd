"""The fault matrix, against real runs (the bundled service in the cgroup sandbox, the tiny
fault scenario): every fault leaves its outcome and exit code, the samples taken up to it, a
run directory `analyze` reads without a traceback, and nothing running or mounted behind.
`benchmarks/fault_matrix.py` prints the same rows as the table in benchmarks/RESULTS.md.

The rows selected are run before the first is checked (FAULT_WORKERS at a time, default 1:
side by side, 3 at a time, they took 206 s instead of 317, but one row's Azurite failed to
start in one of two CI runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.faults import FAULTS, ROOT, Fault, Outcome, can_mount, cgroups_work, run_faults

from harness.rundir import read_events, read_samples

pytestmark = pytest.mark.skipif(not cgroups_work(), reason="no writable memory cgroup here")

MOUNTS = {"--out unwritable", "disk full"}


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome | BaseException]:
    """The outcome of every fault row this session selected (or why it could not be run)."""
    selected = {
        item.callspec.params["fault"].name
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_fault" and hasattr(item, "callspec")
    }
    runnable = [f for f in FAULTS if f.name in selected and (f.name not in MOUNTS or can_mount())]
    workers = int(os.environ.get("FAULT_WORKERS", "1"))
    return run_faults(runnable, tmp_path_factory.mktemp("faults"), workers)


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault(fault: Fault, outcomes: dict[str, Outcome | BaseException]) -> None:
    if fault.name in MOUNTS and not can_mount():
        pytest.skip("needs root to mount a tmpfs")
    outcome = outcomes[fault.name]
    if isinstance(outcome, BaseException):
        raise outcome
    context = f"{outcome.to_json()}"
    assert outcome.tracebacks == 0, context
    assert outcome.leftovers == [], context
    assert outcome.exit_code == fault.exit_code, context
    assert outcome.run_dir == fault.run_dir, context
    if not fault.run_dir:
        return
    assert outcome.status == fault.status, context
    if fault.samples:
        assert outcome.samples > 0, context
    # analyzable: a verdict or one line saying why not, and 1 only for what is a finding
    assert outcome.analyze_exit is not None and outcome.analyze_says, context
    if outcome.analyze_exit == 1:  # a fault never fails a checklist item; a LEAK on the
        # detector's own short window is the statistics' call (calibrated in RESULTS.md)
        allowed = (*fault.finding, "all memory leak tests pass")
        assert outcome.failed_items, context
        assert all(item.startswith(allowed) for item in outcome.failed_items), context


CYCLES = """
description = "two short load/idle cycles"
shape = "cycles"
users = 4
spawn_rate = 4
warmup_s = 2
duration_s = 5
idle_s = 6
cycles = 2
cleanup_s = 1
sample_interval_s = 0.5
tracemalloc_frames = 0
"""


def _run(tmp_path: Path, scenario: str, *args: str, env: dict[str, str] | None = None) -> Path:
    (tmp_path / "scenario.toml").write_text(scenario)
    command = [
        sys.executable,
        "-m",
        "harness",
        "run",
        "--scenario",
        str(tmp_path / "scenario.toml"),
    ]
    command += ["--backend", "cgroup", "--out", str(tmp_path / "out"), "--quiet", *args]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return (tmp_path / "out" / "latest").resolve()


def test_samples_taken_while_the_app_cleans_up_are_labelled_idle(tmp_path: Path) -> None:
    """The app's cleanup at the start of an idle (GC, a pause, clear-cache: seconds) runs after
    the phase has changed: before, its samples were labelled load-N, and the idle's baseline
    and the load's growth both read the wrong samples."""
    run_dir = _run(tmp_path, CYCLES)
    events = read_events(run_dir)
    samples = read_samples(run_dir)
    phases = [e for e in events if e["event"] == "phase"]
    for cycle in (1, 2):
        at = next(i for i, e in enumerate(phases) if e["phase"] == f"idle-{cycle}")
        idle, following = phases[at], phases[at + 1]
        cleanups = [
            e
            for e in events
            if e["event"] == "cleanup" and idle["time"] < e["time"] < following["time"]
        ]
        # the app was asked to collect its garbage in this idle, and to keep its caches
        assert [e["action"] for e in cleanups] == ["gc"], cleanups
        end = max(e["sent_at"] for e in cleanups)
        during = [r for r in samples if idle["time"] <= float(r["time"]) <= end + 0.5]
        assert during and all(r["phase"] == f"idle-{cycle}" for r in during), during


def test_the_memory_endpoints_answer_a_service_that_wants_its_api_key(tmp_path: Path) -> None:
    """CONTAINER_APP_API_KEY set for the service: the harness sends it to the memory
    endpoints (before: 401, the app series empty, the kept check skipped without a word), and
    the key is written nowhere."""
    key = "fault-matrix-key-7f3a9c"
    run_dir = _run(tmp_path, CYCLES, env={"CONTAINER_APP_API_KEY": key})
    checks = [e for e in read_events(run_dir) if e["event"] == "monitoring-check"]
    assert checks and all(e["valid"] for e in checks), checks
    cleanups = [e for e in read_events(run_dir) if e["event"] == "cleanup"]
    assert cleanups and all(e.get("status") == 200 for e in cleanups), cleanups
    answered = [r for r in read_samples(run_dir) if r["app_tasks"] != ""]
    assert len(answered) > 10  # the stats endpoint answered the sampler
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path
