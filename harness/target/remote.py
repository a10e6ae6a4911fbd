"""A service already running at a URL: nothing to boot or stop; memory comes only from its
own memory endpoints, so the series are as good as what the service reports."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from harness.target.base import Limits, Target, TargetError, TargetExit
from harness.target.spec import TargetSpec


class RemoteTarget(Target):
    backend = "remote"

    def __init__(self, spec: TargetSpec, memory_limit: int | None, cpus: float | None) -> None:
        super().__init__(spec, memory_limit, cpus)
        if not spec.url:
            raise TargetError(
                "the remote backend needs the service's URL: --host URL or [target] url"
            )

    def start(self, env: Mapping[str, str], log_path: Path) -> str:
        log_path.write_text(f"remote target at {self.spec.url}: its logs are not collected\n")
        self.url = (self.spec.url or "").rstrip("/")
        return self.url

    def exited(self) -> TargetExit | None:
        return None

    def stop(self, timeout_s: float = 15.0) -> TargetExit | None:
        return None

    def cleanup(self) -> None:
        return None

    def pids(self) -> list[int]:
        return []

    def limits(self) -> Limits:
        return Limits(
            self.memory_limit,
            self.cpus,
            enforced_memory=False,
            enforced_cpu=False,
            notes=["remote backend: limits are whatever the remote platform enforces"],
        )
