"""What every target backend offers the run: boot, health, pids, memory readings, stop.

A backend owns exactly what it started (a process, a cgroup, a container) and `cleanup()`
removes all of it, idempotently, whatever state the run ended in."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.target.cgroup_fs import CgroupReading
from harness.target.spec import TargetSpec


class TargetError(RuntimeError):
    """The target could not be booted or kept running; the message says what to fix."""


class TargetUnavailable(TargetError):
    """This backend cannot work on this machine (no cgroup, no docker engine...)."""


@dataclass(frozen=True)
class ContainerMemory:
    """The container's own view of its memory (cgroup or docker stats), in bytes."""

    usage: int
    working_set: int  # usage minus inactive file: what Kubernetes and Azure act on
    peak: int
    limit: int | None
    shmem: int | None = None
    oom_kills: int = 0
    anon: int | None = None  # anonymous memory (no page cache)

    @classmethod
    def from_cgroup(cls, reading: CgroupReading, oom_kills_before: int = 0) -> ContainerMemory:
        """From a memory cgroup's files; OOM kills counted from `oom_kills_before` on."""
        return cls(
            usage=reading.usage_bytes,
            working_set=reading.working_set_bytes,
            peak=reading.peak_bytes,
            limit=reading.limit_bytes,
            shmem=reading.shmem_bytes,
            oom_kills=reading.oom_kills - oom_kills_before,
            anon=reading.anon_bytes,
        )


@dataclass(frozen=True)
class TargetExit:
    """How the target ended when it ended on its own (or was stopped)."""

    returncode: int | None
    oom_killed: bool
    detail: str = ""


@dataclass
class Limits:
    memory_bytes: int | None
    cpus: float | None
    enforced_memory: bool
    enforced_cpu: bool
    notes: list[str] = field(default_factory=list)


class Target(ABC):
    """One running service under test. Use as a context manager so cleanup always runs."""

    backend: str = "?"

    def __init__(self, spec: TargetSpec, memory_limit: int | None, cpus: float | None) -> None:
        self.spec = spec
        self.memory_limit = memory_limit
        self.cpus = cpus
        self.url = ""

    # -- lifecycle ----------------------------------------------------------------------------
    @abstractmethod
    def start(self, env: Mapping[str, str], log_path: Path) -> str:
        """Boot the service with `env` added to its environment; returns its base URL.
        Output goes to `log_path` as it is written."""

    @abstractmethod
    def exited(self) -> TargetExit | None:
        """None while the service runs; how it ended once it has."""

    @abstractmethod
    def stop(self, timeout_s: float = 15.0) -> TargetExit | None:
        """Ask the service to shut down gracefully, then force it."""

    @abstractmethod
    def cleanup(self) -> None:
        """Remove everything this backend created. Safe to call twice."""

    # -- readings -----------------------------------------------------------------------------
    @abstractmethod
    def pids(self) -> list[int]:
        """Host pids of the service's process tree (empty when they are not visible)."""

    def container_memory(self) -> ContainerMemory | None:
        """The limit-enforcing sandbox's memory, when there is one."""
        return None

    @abstractmethod
    def limits(self) -> Limits:
        """What limits are really enforced (recorded in run.json, said loudly when none)."""

    def signal_heap_dump(self) -> bool:
        """SIGUSR2 to the target: the injected agent then reads its request (a tracemalloc
        snapshot, a garbage collection); False when not possible."""
        return False

    def describe(self) -> dict[str, Any]:
        limits = self.limits()
        return {
            "backend": self.backend,
            "url": self.url,
            "memory_limit_bytes": limits.memory_bytes,
            "cpus": limits.cpus,
            "memory_limit_enforced": limits.enforced_memory,
            "cpu_limit_enforced": limits.enforced_cpu,
            "notes": limits.notes,
        }

    def wait_healthy(self, timeout_s: float, log_tail: Any = None) -> float:
        """Poll the health path until it answers 2xx; returns seconds taken."""
        started = time.monotonic()
        deadline = started + timeout_s
        last = "no answer"
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                ended = self.exited()
                if ended is not None:
                    raise TargetError(
                        f"the target exited during boot (exit code {ended.returncode}"
                        f"{', OOM-killed' if ended.oom_killed else ''})"
                    )
                try:
                    response = client.get(self.url + self.spec.health_path)
                    if response.is_success:
                        return time.monotonic() - started
                    last = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                time.sleep(0.2)
        raise TargetError(
            f"the target did not answer {self.spec.health_path} within {timeout_s:.0f}s "
            f"(last: {last})"
        )

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.exited() is None:
                self.stop()
        finally:
            self.cleanup()
