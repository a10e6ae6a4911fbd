"""A tick that fails costs that row, never the sampling: the thread goes on, the failure is
recorded once per kind and counted; a run directory that refuses writes (a full disk) ends
sampling and says so in `fatal`, which the run turns into its outcome."""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass
from pathlib import Path

from harness.rundir import RunDirectory, read_events
from harness.sample.sampler import Sampler


@dataclass
class Memory:
    usage: int = 100
    working_set: int = 90
    peak: int = 120
    limit: int | None = 1000
    shmem: int | None = 0
    oom_kills: int = 0
    anon: int | None = 80


class FlakyTarget:
    """Raises on every other read, as a probe of an app with another stats shape would."""

    def __init__(self) -> None:
        self.calls = 0

    def container_memory(self) -> Memory:
        self.calls += 1
        if self.calls % 2 == 0:
            raise AttributeError("'int' object has no attribute 'get'")
        return Memory()

    def pids(self) -> list[int]:
        return []


def _sampler(tmp_path: Path, target: FlakyTarget) -> tuple[RunDirectory, Sampler]:
    run = RunDirectory.create(tmp_path, "t", {})
    return run, Sampler(run, target, 0.05, lambda: "load-1", lambda: None)


def test_a_failing_tick_is_counted_and_sampling_goes_on(tmp_path: Path) -> None:
    target = FlakyTarget()
    run, sampler = _sampler(tmp_path, target)
    sampler.start()
    time.sleep(0.6)
    sampler.stop()
    run.close()
    assert target.calls >= 8  # it kept ticking after the first failure
    assert sampler.cost.samples >= 4
    [(kind, count)] = sampler.errors.items()
    assert "AttributeError" in kind and count >= 4
    errors = [e for e in read_events(run.path) if e["event"] == "sampler-error"]
    assert len(errors) == 1  # said once, counted after
    assert sampler.fatal is None


def test_a_full_disk_ends_sampling_and_says_why(tmp_path: Path) -> None:
    run, sampler = _sampler(tmp_path, FlakyTarget())

    def full(_sample: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    run.sample = full  # type: ignore[method-assign]
    sampler.start()
    time.sleep(0.3)
    assert not sampler._thread.is_alive()
    sampler.stop()
    run.close()
    assert sampler.fatal is not None and sampler.fatal.errno == errno.ENOSPC
