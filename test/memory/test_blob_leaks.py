"""The blob storage leak patterns, end to end: each switch at 4 KiB/request is a LEAK in its
class in the quick scenario, with the resume file users (uploads 20 KB-3 MB, downloads, a third
of them abandoned midway, SAS URLs, deletes) in the route mix against a real Azurite the harness
boots; the clean service with the same mix is NO LEAK. About two minutes a run."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from support.runs import run_and_analyze
from test_verdicts import BACKEND

# longer runs of the optional features: the `extended` stage, not CI's default stages
pytestmark = [pytest.mark.memory, pytest.mark.extended]

#: switch -> the class the verdict must name. Every one is Python heap: even a client per
#: request leaks no socket for long, since aiohttp's connector closes a pooled connection idle
#: for 15 s; what stays is each client's session, connector and pipeline.
EXPECTED = {
    "blob-client-per-request": "python-heap",
    "credential-per-request": "python-heap",
    "sas-client-per-call": "python-heap",
    "unclosed-download-stream": "python-heap",
    "unbounded-upload-buffer": "python-heap",
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


#: the resume file users in the route mix, whatever the locustfile's default
FILES_IN_THE_MIX = {"RESUME_API_FILE_USERS": "1"}


def run_quick(tmp_path: Path, *extra: str) -> dict[str, object]:
    """The quick scenario with files in the mix, in the sandbox, judged."""
    out = tmp_path / "reports"
    extra = ("--backend", BACKEND, *extra)
    return run_and_analyze("quick", out, *extra, env=FILES_IN_THE_MIX, timeout_s=400)


def test_clean_service_with_files_in_the_mix_is_no_leak(tmp_path: Path) -> None:
    verdict = run_quick(tmp_path)
    run_dir = tmp_path / "reports" / "latest"
    _figures("clean", verdict, run_dir)
    assert blob_requests(run_dir) >= 50, "the resume file users made too few requests"
    assert verdict["verdict"] == "NO LEAK", verdict["reason"]


@pytest.mark.parametrize("switch", sorted(EXPECTED))
def test_each_blob_switch_is_a_leak_in_its_class(tmp_path: Path, switch: str) -> None:
    expected = EXPECTED[switch]
    verdict = run_quick(tmp_path, "--leak", f"{switch}:4KiB")
    run_dir = tmp_path / "reports" / "latest"
    _figures(f"{switch}:4KiB", verdict, run_dir)
    assert blob_requests(run_dir) >= 50
    assert verdict["verdict"] == "LEAK", verdict["reason"]
    classes = verdict["classes"]
    assert isinstance(classes, list) and expected in classes, classes
