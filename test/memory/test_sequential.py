"""A run that stops once a leak is ruled out, on the bundled service (issue 23): the load is
planned for `max_duration_s` and judged at 20 and 40 s; a clean run ends at the first look
that says NO LEAK, a leak runs the whole load and is a LEAK, and the report says how long the
load ran and why it stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.runs import run_and_analyze, sandbox_backend

from harness.rundir import read_events

pytestmark = pytest.mark.memory

SEQUENTIAL = """
description = "memory test: a steady run that stops once decided"
shape = "steady"
users = 8
spawn_rate = 8
warmup_s = 10
duration_s = 20
max_duration_s = 40
cleanup_s = 2
sample_interval_s = 0.5

[thresholds]
leak_bytes_per_request = 1024  # as test_verdicts.py's short scenario, and why
"""
BACKEND = sandbox_backend()


def _run(tmp_path: Path, *extra: str) -> tuple[dict[str, Any], list[dict[str, Any]], float]:
    """(verdict, the looks taken, seconds the measured load lasted)."""
    scenario = tmp_path / "sequential.toml"
    scenario.write_text(SEQUENTIAL)
    out = tmp_path / "reports"
    env = {"RESUME_API_FILE_USERS": "0"}  # see test_verdicts.ANALYSIS_ROUTES_ONLY
    verdict = run_and_analyze(scenario, out, "--backend", BACKEND, *extra, env=env, timeout_s=300)
    events = read_events((out / "latest").resolve())
    phases = {e["phase"]: e["time"] for e in events if e["event"] == "phase"}
    looks = [e for e in events if e["event"] == "look"]
    return verdict, looks, phases["cleanup"] - phases["load-1"]


def test_a_leak_runs_the_longest_load_and_is_a_leak(tmp_path: Path) -> None:
    """Seen as LEAK at 20 s, the load goes on (a LEAK is only the whole load's to call:
    harness/run/looks.py) and the whole run is a LEAK."""
    verdict, looks, load_s = _run(tmp_path, "--leak", "unbounded-cache:16KiB")
    assert [(e["index"], e["verdict"], e["stop"]) for e in looks] == [(1, "LEAK", False)], looks
    assert load_s >= 39, f"the load ended after {load_s:.0f} s of its 40"
    assert verdict["verdict"] == "LEAK" and verdict["exit_code"] == 1, verdict["reason"]
    assert verdict["run"]["stopped"].startswith("ran the longest load it may, 40 s")
    assert verdict["rules"]["looks"] == 2  # each look judged at half the error budgets


def test_a_clean_service_stops_once_a_leak_is_ruled_out(tmp_path: Path) -> None:
    verdict, looks, load_s = _run(tmp_path)
    assert verdict["verdict"] != "LEAK", verdict["reason"]
    stopped = [e for e in looks if e["stop"]]
    if stopped:  # ruled out early: NO LEAK, the same as the whole run's analysis
        assert stopped[0]["verdict"] == verdict["verdict"] == "NO LEAK"
        assert load_s < stopped[0]["at_s"] + 20
        assert verdict["run"]["stopped"].startswith(f"stopped early, {stopped[0]['at_s']:.0f} s")
    else:  # not ruled out at 20 s: the load ran its longest
        assert len(looks) == 1 and load_s >= 39, (looks, load_s)
        assert verdict["run"]["stopped"].startswith("ran the longest load it may, 40 s")
