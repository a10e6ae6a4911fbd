"""`run --profile memray` on the bundled service: the native-malloc switch is a LEAK of class
native whose top memray stack is the switch's own code, with a leaks flamegraph linked from the
report, in the sandbox and in a container; the clean service under memray is NO LEAK.

memray slows the service about tenfold here (native stacks of every malloc, tracemalloc
alongside), so the scenario is judged on ~150 requests: it declares the leak size it must tell
apart (2 KiB/request) and the switch leaks 16 KiB/request, enough to pass the verdict's 1 MiB
growth floor in that many requests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.docker_engine import needs_engine
from support.runs import sandbox_backend

# longer runs of the optional features: the `extended` stage, not CI's default stages
pytestmark = [pytest.mark.memory, pytest.mark.extended]

ROOT = Path(__file__).resolve().parents[2]
PROFILED = """
description = "memory test: a short steady run under memray"
shape = "steady"
users = 4
spawn_rate = 4
warmup_s = 20
duration_s = 40
cleanup_s = 2
sample_interval_s = 0.5
tracemalloc_frames = 1
profile = "memray"

[thresholds]
leak_bytes_per_request = 2048
"""


def run_profiled(
    tmp_path: Path, *extra: str, backend: str | None = None
) -> tuple[dict[str, Any], Path]:
    scenario = tmp_path / "profiled.toml"
    scenario.write_text(PROFILED)
    out = tmp_path / "reports"
    command = [sys.executable, "-m", "harness", "run", "--scenario", str(scenario), "--quiet"]
    command += ["--out", str(out), "--backend", backend or sandbox_backend(), "--analyze", *extra]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    run_dir = (out / "latest").resolve()
    assert (run_dir / "verdict.json").is_file(), done.stderr[-2000:]
    verdict: dict[str, Any] = json.loads((run_dir / "verdict.json").read_text())
    verdict["exit_code"] = done.returncode
    return verdict, run_dir


def _assert_capture_written(verdict: dict[str, Any], run_dir: Path) -> None:
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    capture = next(e for e in events if e["event"] == "memray-capture")
    assert capture["file"] and capture["bytes"] > 0, "memray wrote no capture"
    memray = verdict["memray"]
    assert memray["python_allocator"] == "malloc" and memray["native_traces"]
    assert memray["flamegraph"], memray["note"]
    page = run_dir / memray["flamegraph"]
    text = page.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html") and page.stat().st_size > 100_000
    assert "href='memray/leaks-flamegraph.html'" in (run_dir / "report.html").read_text()


@pytest.mark.parametrize("backend", [None, pytest.param("docker", marks=needs_engine)])
def test_native_malloc_under_memray_is_native_and_points_at_the_switch(
    tmp_path: Path, backend: str | None
) -> None:
    """In the sandbox, and in a container whose image has memray (the bundled Dockerfile's
    PROFILER build arg)."""
    verdict, run_dir = run_profiled(tmp_path, "--leak", "native-malloc:16KiB", backend=backend)
    assert verdict["verdict"] == "LEAK", verdict["reason"]
    assert "native" in verdict["classes"], verdict["classes"]
    assert verdict["deciding_series"] == "memray_heap"
    _assert_capture_written(verdict, run_dir)
    top = verdict["memray"]["leaks"][0]
    assert "resume_api/leaks.py" in top["site"], [s["site"] for s in verdict["memray"]["leaks"]]
    assert any("strndup" in frame for frame in top["frames"]), top["frames"][:5]
    # everything the switch leaked is still held at exit: 16 KiB for each request served
    assert top["bytes_per_request"] == pytest.approx(16384, rel=0.25)
    assert "leaks.py" in (run_dir / verdict["memray"]["flamegraph"]).read_text()


def test_clean_service_under_memray_is_no_leak(tmp_path: Path) -> None:
    verdict, run_dir = run_profiled(tmp_path)
    assert verdict["verdict"] == "NO LEAK", verdict["reason"]
    assert verdict["exit_code"] == 0, verdict["checklist"]
    _assert_capture_written(verdict, run_dir)
    judged = {s["name"]: s for s in verdict["series"]}
    assert "memray's own memory" in judged["rss"]["reason"]
