"""Loaded by Locust next to the user's locustfile (`-f theirs.py,locust_hooks.py`): the
scenario's stages as a load shape, and the cumulative request counts written every 0.2 s to a
small progress file that the sampler reads, so counts and memory samples line up.

Works in Locust's master/worker mode too: counts are read on the master (workers report every
0.5 s instead of Locust's default 3 s)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import gevent
import locust.runners
from locust import LoadTestShape, events
from locust.env import Environment
from locust.runners import WorkerRunner

from harness.load.hook_env import PROGRESS_ENV, SCHEDULE_ENV

PROGRESS_INTERVAL_S = 0.2

locust.runners.WORKER_REPORT_INTERVAL = 0.5

_SCHEDULE: list[list[float]] = json.loads(os.environ.get(SCHEDULE_ENV, "[]"))


def stage_at(run_time: float) -> int | None:
    """Index of the stage running `run_time` seconds into the test; None after the last."""
    end = 0.0
    for index, (duration, _users, _rate) in enumerate(_SCHEDULE):
        end += duration
        if run_time < end:
            return index
    return None


class ScheduleShape(LoadTestShape):
    """Follows the stages the harness planned; the test ends after the last one."""

    def tick(self) -> tuple[int, float] | None:
        index = stage_at(self.get_run_time())  # type: ignore[no-untyped-call]
        if index is None:
            return None
        _duration, users, rate = _SCHEDULE[index]
        return int(users), float(rate)


def _write_progress(environment: Environment, path: str) -> None:
    tmp = f"{path}.tmp"
    while True:
        runner = environment.runner
        shape = environment.shape_class
        stage = None
        if runner is not None and shape is not None and runner.state not in ("ready", "stopped"):
            stage = stage_at(shape.get_run_time())  # type: ignore[no-untyped-call]
        total = runner.stats.total if runner is not None else None
        progress: dict[str, Any] = {
            "time": time.time(),
            "requests": total.num_requests if total else 0,
            "failures": total.num_failures if total else 0,
            "users": runner.user_count if runner is not None else 0,
            "state": str(runner.state) if runner is not None else "init",
            "stage": stage,
            "cpu_s": time.process_time(),  # is one Locust process enough? (saturation notes)
        }
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(progress, handle)
        os.replace(tmp, path)
        gevent.sleep(PROGRESS_INTERVAL_S)


def _on_init(environment: Environment, **_kwargs: Any) -> None:
    path = os.environ.get(PROGRESS_ENV)
    if path and not isinstance(environment.runner, WorkerRunner):
        gevent.spawn(_write_progress, environment, path)


events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]
