"""`leak-harness doctor`: which backends work on this machine, and why not."""

from __future__ import annotations

import argparse
import importlib.util
import uuid

from harness.target.cgroup_fs import Cgroup, CgroupError
from harness.target.docker_engine import docker_answers
from harness.target.docker_image import LOCAL_BASE_IMAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def _cgroup() -> tuple[bool, str]:
    try:
        group = Cgroup.create(f"leak-harness-doctor-{uuid.uuid4().hex[:8]}", 64 << 20, cpus=1.0)
    except CgroupError as exc:
        return False, str(exc)
    try:
        cpu = "with a CPU quota" if group.cpu_limited else "no CPU quota (cpu controller)"
        return True, f"cgroup v{group.version} memory limit works, {cpu}"
    finally:
        group.remove()


def _docker() -> tuple[bool, str]:
    """The engine, what it enforces, and whether the image can be built without a pull."""
    why_not = docker_answers()
    if why_not is not None:
        return False, f"{why_not}; scripts/docker_setup.sh installs and starts one"
    import docker
    from docker.errors import DockerException, ImageNotFound

    client = docker.from_env(timeout=10)
    try:
        info = client.info()
        try:
            client.images.get(LOCAL_BASE_IMAGE)
            base = f"local base image {LOCAL_BASE_IMAGE}"
        except ImageNotFound:
            base = "no local base image (the build pulls python:3.11-slim; scripts/docker_setup.sh"
            base += " builds one offline)"
    except DockerException as exc:
        return False, f"the Docker engine fails: {str(exc)[:160]}"
    finally:
        client.close()
    enforced = "memory limit" if info.get("MemoryLimit") else "NO memory limit"
    swap = "no swap" if info.get("SwapLimit") else "swap NOT limited"
    cgroup = info.get("CgroupVersion") or "?"
    version = info.get("ServerVersion") or "?"
    works = bool(info.get("MemoryLimit"))
    return works, f"engine {version}, cgroup v{cgroup}, {enforced}, {swap}; {base}"


def main(args: argparse.Namespace) -> int:
    del args
    checks: list[tuple[str, bool, str]] = []
    ok, why = _cgroup()
    checks.append(("cgroup", ok, why))
    checks.append(("docker", *_docker()))
    checks.append(("process", True, "always works; enforces NO limit"))
    checks.append(("remote", True, "needs --host URL of a running service"))
    locust = importlib.util.find_spec("locust") is not None
    for name, works, detail in checks:
        print(f"{'ok ' if works else 'no '} {name:<8} {detail}")
    print(f"{'ok ' if locust else 'no '} {'locust':<8} {'installed' if locust else 'missing'}")
    return 0 if checks[0][1] or checks[1][1] else 1
