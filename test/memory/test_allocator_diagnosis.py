"""The allocator diagnosis on the bundled service, in the 2 GiB cgroup sandbox: a true native
leak (native-malloc, memory handed out by malloc and never freed) and allocator retention
(allocator-retention, freed scratch buffers glibc keeps) both make RSS grow with the Python
heap flat, and the verdict alone calls both a native LEAK. `run --allocator-check` reruns the
scenario with glibc's thresholds fixed: the leak's growth persists, the retention's goes away.

Each case is the short scenario twice (the run, then its rerun): about 2.5 minutes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.runs import sandbox_backend
from test_verdicts import SHORT

pytestmark = [pytest.mark.memory, pytest.mark.extended]

ROOT = Path(__file__).resolve().parents[2]
MIB = 1 << 20


def run_with_allocator_check(tmp_path: Path, leak: str) -> tuple[dict[str, Any], Path]:
    """One run with --allocator-check --analyze: (verdict.json, the run directory)."""
    backend = sandbox_backend()
    if backend != "cgroup":
        pytest.skip("the diagnosis is judged on the container's anon+shm: needs a cgroup")
    scenario = tmp_path / "short.toml"
    scenario.write_text(SHORT)
    out = tmp_path / "reports"
    command = [sys.executable, "-m", "harness", "run", "--scenario", str(scenario), "--quiet"]
    command += ["--out", str(out), "--backend", backend, "--leak", leak]
    command += ["--allocator-check", "--analyze"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    run_dir = (out / "latest").resolve()
    assert (run_dir / "allocator.json").is_file(), done.stderr[-3000:]
    verdict: dict[str, Any] = json.loads((run_dir / "verdict.json").read_text())
    assert verdict["allocator"] == json.loads((run_dir / "allocator.json").read_text())
    print(json.dumps(figures(verdict["allocator"]), indent=1))  # the figures, for the record
    return verdict, run_dir


def figures(diagnosis: dict[str, Any]) -> dict[str, Any]:
    """Growth per request of each series, before and under each setting tried."""
    runs = [diagnosis["before"]] + [t["growth"] for t in diagnosis["tried"] if t["growth"]]
    return {
        run["allocator"]: {
            name: [round(t["slope"]), round(t["low"]), round(t["high"])]
            for name, t in run["series"].items()
        }
        | {
            "released_at_cleanup_mib": {
                k: round(v / MIB, 1) for k, v in run["released_at_cleanup"].items()
            }
        }
        for run in runs
    }


def tuned(diagnosis: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in diagnosis["tried"] if t["setting"] == "glibc-tuned")
    assert found["growth"] is not None, found["reason"]
    return found


def test_native_malloc_persists_under_tuned_glibc(tmp_path: Path) -> None:
    verdict, run_dir = run_with_allocator_check(tmp_path, "native-malloc:4KiB")
    assert verdict["verdict"] == "LEAK" and "native" in verdict["classes"], verdict["reason"]
    diagnosis = verdict["allocator"]
    assert diagnosis["decision"] == "native-leak", diagnosis["reason"]
    after = tuned(diagnosis)
    assert after["outcome"] == "persists", after["reason"]
    resident = diagnosis["resident_series"]
    assert resident == "container_anon"
    for run in (diagnosis["before"], after["growth"]):
        # malloc counts what it handed out and nobody freed: the leak's own rate, both times
        assert run["series"]["app_malloc"]["low"] > 2048, run["series"]["app_malloc"]
        assert run["series"][resident]["low"] > 2048, run["series"][resident]
    assert (run_dir / "allocator" / "glibc-tuned" / "latest" / "samples.csv").is_file()
    assert "Allocator diagnosis: native-leak" in (run_dir / "report.html").read_text()


def test_allocator_retention_goes_away_under_tuned_glibc(tmp_path: Path) -> None:
    verdict, run_dir = run_with_allocator_check(tmp_path, "allocator-retention:4KiB")
    # the verdict alone cannot tell: RSS grows, the heap does not
    assert verdict["verdict"] == "LEAK" and "native" in verdict["classes"], verdict["reason"]
    diagnosis = verdict["allocator"]
    assert diagnosis["decision"] == "allocator-retention", diagnosis["reason"]
    before = diagnosis["before"]
    resident = diagnosis["resident_series"]
    assert before["series"][resident]["low"] > 2048, before["series"][resident]
    # not a leak: the bytes malloc has handed out do not grow
    assert before["series"]["app_malloc"]["high"] < 1024, before["series"]["app_malloc"]
    after = tuned(diagnosis)
    assert after["outcome"] == "gone", after["reason"]
    assert after["growth"]["series"][resident]["high"] < 1024, after["growth"]["series"]
    # and the cleanup's malloc_trim(0) gave most of the retained memory back
    grown = before["series"][resident]["total_growth"]
    assert before["released_at_cleanup"][resident] > 0.5 * grown, before["released_at_cleanup"]
    summary = (run_dir / "summary.md").read_text()
    assert "Allocator diagnosis: **allocator-retention**" in summary
