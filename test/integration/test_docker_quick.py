"""The quick scenario in a real 2 GiB Docker container, as our user ships the service: the clean
service is NO LEAK with its checklist passing, and a 4 KiB/request telemetry-buffer leak is
LEAK in the Python heap with the switch's own code as top suspect. Readings come from the
container's cgroup and the tracemalloc agent inside the container. Skipped, saying why, when
no Docker engine answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.docker_engine import needs_engine
from support.runs import run_and_analyze

pytestmark = needs_engine


def quick_in_docker(tmp_path: Path, *extra: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """run.json and `analyze --json` of one quick run on the docker backend."""
    out = tmp_path / "reports"
    verdict = run_and_analyze("quick", out, "--backend", "docker", *extra)
    meta: dict[str, Any] = json.loads((out / "latest" / "run.json").read_text())
    return meta, verdict


def _in_a_2gib_container(meta: dict[str, Any]) -> None:
    backend = meta["target_backend"]
    assert backend["backend"] == "docker" and backend["memory_limit_enforced"] is True
    assert backend["memory_limit_bytes"] == 2 << 30 and backend["readings"] == "cgroup"
    assert meta["outcome"]["status"] == "completed"


def test_clean_service_in_docker_is_no_leak(tmp_path: Path, service_image: str) -> None:
    del service_image  # built before the run, so a slow build does not count against it
    meta, verdict = quick_in_docker(tmp_path)
    _in_a_2gib_container(meta)
    assert verdict["verdict"] == "NO LEAK", verdict["reason"]
    failed = [item for item in verdict["checklist"] if item["status"] == "FAIL"]
    assert not failed, failed
    assert verdict["exit_code"] == 0


def test_a_heap_leak_in_docker_is_caught(tmp_path: Path, service_image: str) -> None:
    del service_image
    meta, verdict = quick_in_docker(tmp_path, "--leak", "telemetry-buffer:4KiB")
    _in_a_2gib_container(meta)
    assert verdict["verdict"] == "LEAK", verdict["reason"]
    assert "python-heap" in verdict["classes"], verdict["classes"]
    sites = [suspect["site"] for suspect in verdict["suspects"]]
    assert sites and "resume_api/telemetry.py" in sites[0], sites[:3]
    assert verdict["exit_code"] == 1
