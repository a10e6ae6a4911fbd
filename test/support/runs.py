"""Whole harness runs for tests: `leak-harness run` then `leak-harness analyze --json`, each
in its own process as a user would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.target.cgroup_fs import Cgroup, CgroupError

ROOT = Path(__file__).resolve().parents[2]


def sandbox_backend() -> str:
    """`cgroup` where this machine lets us make one, else `process` (no limit enforced)."""
    try:
        Cgroup.create("leak-test-probe", 64 << 20).remove()
    except CgroupError:
        return "process"
    return "cgroup"


def run_and_analyze(
    scenario: str | Path,
    out: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    timeout_s: float = 600,
) -> dict[str, Any]:
    """One completed run (the test fails with the harness's stderr otherwise), judged from its
    run directory alone; `exit_code` is analyze's."""
    command = [sys.executable, "-m", "harness", "run", "--scenario", str(scenario), "--quiet"]
    done = subprocess.run(
        [*command, "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    judged = subprocess.run(
        [sys.executable, "-m", "harness", "analyze", str(out / "latest"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert judged.stdout.strip(), f"analyze exited {judged.returncode}: {judged.stderr}"
    verdict: dict[str, Any] = json.loads(judged.stdout)
    verdict["exit_code"] = judged.returncode
    return verdict
