"""The harness end to end on the bundled service: every leak switch at 4 KiB/request is a
LEAK in its own class (heap leaks with their own code as the top suspect), and the clean
service is NO LEAK and passes its checklist. Each run is a short steady scenario
in the 2 GiB cgroup sandbox (the process backend where no cgroup can be made), judged by
`leak-harness analyze` from its run directory alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.runs import run_and_analyze, sandbox_backend

pytestmark = pytest.mark.memory

ROOT = Path(__file__).resolve().parents[2]
SHORT = """
description = "memory test: a short steady run"
shape = "steady"
users = 8
spawn_rate = 8
warmup_s = 10
duration_s = 35
cleanup_s = 2
sample_interval_s = 0.5
tracemalloc_frames = 1

[thresholds]
# ~900 requests cannot rule out 256 B/request (the default; the clean service's early growth
# and its noise are that large): this test declares the leak size it must tell apart, a
# quarter of the 4 KiB/request the switches leak at here.
leak_bytes_per_request = 1024
"""

#: The short scenario's ~900 requests are judged on the analysis routes alone: with megabyte
#: uploads in the mix, container anon+shm moves by megabyte steps, and a clean 35-second run
#: could not rule out 1 KiB/request (INCONCLUSIVE, upper bound 6,488 B/request, in CI). Files in
#: the mix are judged in the quick scenario (test_blob_leaks.py, benchmarks/RESULTS.md).
ANALYSIS_ROUTES_ONLY = {"RESUME_API_FILE_USERS": "0"}

#: switch -> the class the verdict must put it in first
EXPECTED = {
    "telemetry-buffer": "python-heap",
    "unbounded-cache": "python-heap",
    "latency-by-raw-path": "python-heap",
    "task-accumulation": "resources:app_tasks",
    "unclosed-http-client": "resources:fds",
    "native-malloc": "native",
    "shm-spill": "container-only",
}
#: heap-class switches: the file the top leak suspect must point at (the switch's own code)
SUSPECT_FILE = {
    "telemetry-buffer": "resume_api/telemetry.py",
    "latency-by-raw-path": "resume_api/telemetry.py",
    "unbounded-cache": "resume_api/llm.py",  # the padded copy pinned past the bound
    "task-accumulation": "resume_api/resources.py",
}


BACKEND = sandbox_backend()


def run_and_judge(
    tmp_path: Path, *extra: str, env: dict[str, str] | None = None
) -> dict[str, object]:
    """The short scenario in the sandbox, judged; without the resume file users unless `env`
    asks for them."""
    scenario = tmp_path / "short.toml"
    scenario.write_text(SHORT)
    out = tmp_path / "reports"
    env = {**ANALYSIS_ROUTES_ONLY, **(env or {})}
    return run_and_analyze(scenario, out, "--backend", BACKEND, *extra, env=env, timeout_s=300)


def test_clean_service_is_no_leak(clean_short_run: tuple[dict[str, object], Path]) -> None:
    verdict, _ = clean_short_run
    assert verdict["verdict"] == "NO LEAK", verdict["reason"]
    assert verdict["exit_code"] == 0
    checklist = verdict["checklist"]
    assert isinstance(checklist, list)
    failed = [item for item in checklist if item["status"] == "FAIL"]
    assert not failed, failed


@pytest.mark.parametrize("switch", sorted(EXPECTED))
def test_each_switch_is_a_leak_in_its_class(tmp_path: Path, switch: str) -> None:
    if switch == "shm-spill" and BACKEND != "cgroup":
        pytest.skip("shm is only visible to a container's memory accounting")
    rate = "48KiB" if switch == "unclosed-http-client" else "4KiB"  # a client is ~840 KiB
    verdict = run_and_judge(tmp_path, "--leak", f"{switch}:{rate}")
    assert verdict["verdict"] == "LEAK", verdict["reason"]
    assert verdict["exit_code"] == 1
    classes = verdict["classes"]
    assert isinstance(classes, list) and EXPECTED[switch] in classes, classes
    if switch in SUSPECT_FILE:
        suspects = verdict["suspects"]
        assert isinstance(suspects, list) and suspects, verdict["suspects_basis"]
        assert SUSPECT_FILE[switch] in suspects[0]["site"], [s["site"] for s in suspects[:3]]
