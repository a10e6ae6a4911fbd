"""The blob storage leak patterns, end to end: each switch is a LEAK in its class in the short
steady scenario, with the resume file users (uploads 20 KB-3 MB, downloads, a third of them
abandoned midway, SAS URLs, deletes) in the route mix against a real Azurite the harness boots;
the clean service with the same mix is NO LEAK."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from test_verdicts import run_and_judge

# longer runs of the optional features: the `extended` stage, not CI's default stages
pytestmark = [pytest.mark.memory, pytest.mark.extended]

#: switch -> (rate, the class the verdict must name). Every one is Python heap: even a client
#: per request leaks no socket for long, since aiohttp's connector closes a pooled connection
#: idle for 15 s; what stays is each client's session, connector and pipeline.
EXPECTED = {
    "blob-client-per-request": ("16KiB", "python-heap"),
    "credential-per-request": ("8KiB", "python-heap"),
    "sas-client-per-call": ("4KiB", "python-heap"),
    "unclosed-download-stream": ("4KiB", "python-heap"),
    "unbounded-upload-buffer": ("4KiB", "python-heap"),
}


def blob_requests(run_dir: Path) -> int:
    """Requests Locust made to the resume file routes (its stats file)."""
    with (run_dir / "locust_stats.csv").open() as stats:
        return sum(
            int(row["Request Count"])
            for row in csv.DictReader(stats)
            if row["Name"].startswith("resumes-")
        )


def _figures(label: str, verdict: dict[str, object], run_dir: Path) -> None:
    print(
        f"{label}: {verdict['verdict']} {verdict['classes']} deciding={verdict['deciding_series']}"
        f" {verdict['bytes_per_request']} B/request over {verdict['requests_measured']} requests"
        f" ({blob_requests(run_dir)} to the file routes)"
    )


#: the resume file users join the route mix only when asked (scenarios/resume_api_locustfile.py)
FILES_IN_THE_MIX = {"RESUME_API_FILE_USERS": "1"}


def test_clean_service_with_files_in_the_mix_is_no_leak(tmp_path: Path) -> None:
    verdict = run_and_judge(tmp_path, env=FILES_IN_THE_MIX)
    run_dir = tmp_path / "reports" / "latest"
    _figures("clean", verdict, run_dir)
    assert blob_requests(run_dir) >= 50, "the resume file users made too few requests"
    assert verdict["verdict"] == "NO LEAK", verdict["reason"]


@pytest.mark.parametrize("switch", sorted(EXPECTED))
def test_each_blob_switch_is_a_leak_in_its_class(tmp_path: Path, switch: str) -> None:
    rate, expected = EXPECTED[switch]
    verdict = run_and_judge(tmp_path, "--leak", f"{switch}:{rate}", env=FILES_IN_THE_MIX)
    run_dir = tmp_path / "reports" / "latest"
    _figures(f"{switch}:{rate}", verdict, run_dir)
    assert blob_requests(run_dir) >= 50
    assert verdict["verdict"] == "LEAK", verdict["reason"]
    classes = verdict["classes"]
    assert isinstance(classes, list) and expected in classes, classes
