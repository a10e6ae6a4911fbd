"""The run directory is written as it goes, and read back by the stages after it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from harness.load.scenario import Stage
from harness.load.stress import knee
from harness.rundir import RunDirectory, Sample


def test_samples_and_events_are_on_disk_before_the_run_ends(tmp_path: Path) -> None:
    run = RunDirectory.create(tmp_path, "quick", {"settings": {"api_key": "s3cret", "users": 4}})
    run.sample(Sample(time=1.0, elapsed_s=0.5, phase="warm-up", requests=3, failures=0, users=4))
    run.event("phase", phase="warm-up")
    # Not closed: as if the harness were killed now.
    rows = list(csv.DictReader((run.path / "samples.csv").open()))
    assert rows[0]["phase"] == "warm-up" and rows[0]["requests"] == "3"
    assert json.loads((run.path / "events.jsonl").read_text())["phase"] == "warm-up"
    meta = json.loads((run.path / "run.json").read_text())
    assert meta["outcome"]["status"] == "running"
    assert meta["settings"] == {"api_key": "***", "users": 4}
    assert (tmp_path / "latest").resolve() == run.path.resolve()
    run.finish("interrupted", 130, signal="SIGINT")
    meta = json.loads((run.path / "run.json").read_text())
    assert meta["outcome"]["status"] == "interrupted" and meta["outcome"]["exit_code"] == 130


def test_two_runs_in_the_same_second_get_distinct_directories(tmp_path: Path) -> None:
    first = RunDirectory.create(tmp_path, "quick", {})
    second = RunDirectory.create(tmp_path, "quick", {})
    assert first.path != second.path and (tmp_path / "latest").resolve() == second.path.resolve()


def test_knee_is_where_more_users_stop_adding_throughput(tmp_path: Path) -> None:
    run = RunDirectory.create(tmp_path, "stress", {})
    stages = [Stage(f"load-{i}", 10, 4 * i, 4) for i in (1, 2, 3, 4)]
    rates = {1: 20.0, 2: 40.0, 3: 41.0, 4: 40.5}  # saturates at 8 users
    requests, t = 0.0, 0.0
    for i, stage in enumerate(stages, start=1):
        for _ in range(10):
            run.sample(
                Sample(
                    time=t,
                    elapsed_s=t,
                    phase=stage.phase,
                    requests=int(requests),
                    failures=0,
                    users=stage.users,
                    load_cpu_s=t * 0.3,
                    cpu_s=t,
                )
            )
            requests += rates[i]
            t += 1.0
    run.close()
    result = knee(run.path, stages)
    assert result["knee_users"] == 8
    assert result["saturation_rps"] == pytest.approx(40.5, abs=0.3)  # median of 40, 41, 40.5
    assert result["steps"][0]["locust_cpu_share"] == 0.3
