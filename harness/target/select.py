"""Backend choice: an explicit one, or `auto` (docker when an engine answers, else a cgroup
when one can be created, else a plain process, said loudly)."""

from __future__ import annotations

from harness.target.base import Target, TargetUnavailable
from harness.target.docker_engine import docker_answers
from harness.target.local import CgroupTarget, ProcessTarget
from harness.target.remote import RemoteTarget
from harness.target.spec import TargetSpec


def make_target(
    backend: str,
    spec: TargetSpec,
    memory_limit: int | None,
    cpus: float | None,
    local_only: bool = False,
) -> Target:
    """`local_only`: `auto` never picks docker (a target wrapped by a profiler)."""
    if backend == "auto":
        if not local_only and docker_answers() is None:
            backend = "docker"
        else:
            try:
                return CgroupTarget(spec, memory_limit, cpus)
            except TargetUnavailable:
                backend = "process"
    if backend == "docker":
        from harness.target.docker import DockerTarget

        target: Target = DockerTarget(spec, memory_limit, cpus)
        return target
    if backend == "cgroup":
        return CgroupTarget(spec, memory_limit, cpus)
    if backend == "remote":
        return RemoteTarget(spec, memory_limit, cpus)
    return ProcessTarget(spec, memory_limit, cpus)
