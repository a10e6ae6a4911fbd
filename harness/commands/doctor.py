"""`leak-harness doctor`: which backends work on this machine, and why not."""

from __future__ import annotations

import argparse
import importlib.util
import uuid

from harness.target.cgroup_fs import Cgroup, CgroupError
from harness.target.select import docker_answers


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


def run(args: argparse.Namespace) -> int:
    del args
    checks: list[tuple[str, bool, str]] = []
    ok, why = _cgroup()
    checks.append(("cgroup", ok, why))
    why_not = docker_answers()
    checks.append(("docker", why_not is None, why_not or "a Docker engine answers"))
    checks.append(("process", True, "always works; enforces NO limit"))
    checks.append(("remote", True, "needs --host URL of a running service"))
    locust = importlib.util.find_spec("locust") is not None
    for name, works, detail in checks:
        print(f"{'ok ' if works else 'no '} {name:<8} {detail}")
    print(f"{'ok ' if locust else 'no '} {'locust':<8} {'installed' if locust else 'missing'}")
    return 0 if checks[0][1] or checks[1][1] else 1
