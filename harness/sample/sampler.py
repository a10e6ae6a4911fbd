"""The sampler: one thread, a fixed interval, one row per tick into the run directory.

Ticks are scheduled on absolute times (no drift), and the request counts in a row are the
load generator's cumulative counts read in the same tick, at most one progress interval
(0.2 s) old, so counts and memory line up within one sampling interval.

What it reads is given as protocols (below), not as the target and load classes: the run
hands in its Target and Locust's progress, a benchmark or a test anything of that shape."""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from harness.rundir import RunDirectory, Sample
from harness.sample.probes import AppStats, ProcessTree


class MemoryReading(Protocol):
    """The container's own view of its memory, in bytes (harness.target.base.ContainerMemory)."""

    @property
    def usage(self) -> int: ...
    @property
    def working_set(self) -> int: ...
    @property
    def peak(self) -> int: ...
    @property
    def limit(self) -> int | None: ...
    @property
    def shmem(self) -> int | None: ...
    @property
    def oom_kills(self) -> int: ...
    @property
    def anon(self) -> int | None: ...


class Sampled(Protocol):
    """What the sampler reads of the target (harness.target.base.Target)."""

    def container_memory(self) -> MemoryReading | None: ...
    def pids(self) -> list[int]: ...


class LoadProgress(Protocol):
    """The load generator's cumulative counts (harness.load.locust_process.Progress)."""

    @property
    def requests(self) -> int: ...
    @property
    def failures(self) -> int: ...
    @property
    def users(self) -> int: ...
    @property
    def cpu_s(self) -> float: ...


@dataclass
class SamplerCost:
    """What sampling itself cost, for the run's metadata and the issue notes."""

    samples: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0

    @property
    def cpu_ms_per_sample(self) -> float:
        return 1000.0 * self.cpu_s / self.samples if self.samples else 0.0


class Sampler:
    def __init__(
        self,
        run: RunDirectory,
        target: Sampled,
        interval_s: float,
        phase: Callable[[], str],
        progress: Callable[[], LoadProgress | None],
        app_stats: AppStats | None = None,
    ) -> None:
        self.run = run
        self.target = target
        self.interval_s = interval_s
        self.phase = phase
        self.progress = progress
        self.app_stats = app_stats
        self.tree = ProcessTree()
        self.cost = SamplerCost()
        self.last: Sample | None = None
        self.errors: dict[str, int] = {}  # what failed in a tick (type: message) -> how often
        self.fatal: OSError | None = None  # the run directory refused a row: sampling is over
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)
        self._listeners: list[Callable[[Sample], None]] = []

    def on_sample(self, listener: Callable[[Sample], None]) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.interval_s + 5.0)
        if self.app_stats is not None:
            self.app_stats.close()

    def _loop(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set() and self.fatal is None:
            self.tick()
            next_tick += self.interval_s
            delay = next_tick - time.monotonic()
            if delay < 0:  # we fell behind (a slow stats endpoint): skip, do not burst
                next_tick = time.monotonic()
                delay = 0
            self._stop.wait(delay)

    def tick(self) -> Sample | None:
        """One sample that cannot raise: a probe or listener that fails costs this row (the
        failure is recorded once per kind, and counted); only a run directory that takes no
        more writes ends sampling, which the run sees in `fatal`."""
        try:
            return self.take()
        except OSError as exc:
            if _writes_refused(exc):
                self.fatal = exc
                return None
            self._failed(exc)
        except Exception as exc:  # a tick must not end the thread
            self._failed(exc)
        return None

    def _failed(self, exc: Exception) -> None:
        kind = f"{type(exc).__name__}: {exc}"
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if self.errors[kind] == 1:
            try:
                self.run.event("sampler-error", error=kind)
            except OSError as write_error:
                self.fatal = write_error

    def take(self) -> Sample:
        """One sample, written and flushed at once."""
        cpu_before, wall_before = time.thread_time(), time.perf_counter()
        now = time.time()
        progress = self.progress()
        sample = Sample(
            time=round(now, 3),
            elapsed_s=round(now - self.run.started, 3),
            phase=self.phase(),
            requests=progress.requests if progress else 0,
            failures=progress.failures if progress else 0,
            users=progress.users if progress else 0,
            load_cpu_s=round(progress.cpu_s, 3) if progress else None,
        )
        memory = self.target.container_memory()
        if memory is not None:
            sample.working_set = memory.working_set
            if memory.anon is not None:
                sample.container_anon = memory.anon + (memory.shmem or 0)
            sample.cgroup_usage = memory.usage
            sample.cgroup_peak = memory.peak
            sample.cgroup_limit = memory.limit
            sample.shmem = memory.shmem
            sample.oom_kills = memory.oom_kills
        tree = self.tree.read(self.target.pids())
        if tree is not None:
            sample.rss, sample.uss, sample.pss = tree.rss, tree.uss, tree.pss
            sample.fds, sample.sockets, sample.threads = tree.fds, tree.sockets, tree.threads
            sample.processes, sample.cpu_s = tree.processes, round(tree.cpu_s, 3)
        if self.app_stats is not None:
            app = self.app_stats.read()
            if app is not None:
                sample.app_tasks, sample.app_connections = app.tasks, app.connections
                sample.app_cache_entries, sample.app_cache_bytes = (
                    app.cache_entries,
                    app.cache_bytes,
                )
                sample.app_heap = app.heap
                sample.app_malloc = app.malloc
                if tree is None:  # remote: the app's own view is all there is
                    sample.rss = app.rss
                    sample.working_set = sample.working_set or app.container_working_set
        self.run.sample(sample)
        self.last = sample
        self.cost.samples += 1
        self.cost.cpu_s += time.thread_time() - cpu_before
        self.cost.wall_s += time.perf_counter() - wall_before
        for listener in self._listeners:
            listener(sample)
        return sample


def _writes_refused(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EBADF)
