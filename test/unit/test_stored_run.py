"""A run directory written before issue 17's restructuring is still judged to the same verdict.

test/data/pre17-quick-run/ is a real `quick` run written and analyzed by commit e86d01b (see its
README). `leak-harness analyze` of the current tree runs on a copy of it, and its verdict.json
must equal the stored one: the verdict, every series' decision and figures, the suspects and the
checklist. Behaviour that changes on purpose needs a new stored run, never a regenerated one.

One deliberate change is recorded beside it: issue 23's calibrated growth statistics (an AR(1)
standard error with rho bias-corrected, t intervals at the effective sample size, Bonferroni
over the judged series, the detectable figure of the whole LEAK rule) change every trend's
interval, z and detectable figure. `verdict-calibrated.json` is the current tree's answer for
the same run, and the figures are compared with it; e86d01b's verdict.json still holds every
decision: INCONCLUSIVE on process RSS, no series leaking, the same slopes and suspects. The
threshold from the container's limit and the looks of a run that stops once decided (issue 23)
added verdict fields, rules and each trend's `upper` (at one look, its `high`) to it; the
plateau test at 2.5% on its own (not the family's level: a real logger-per-request leak read
as a plateau) lowered each `second_half_critical` and the detectable figures.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
STORED = REPO / "test" / "data" / "pre17-quick-run"
# The tree the run was made from: run.json names files in it (the alert rule file the checklist
# reads); the copy points them at this checkout, whose resume_api/ holds the same files.
PRODUCED_IN = "/tmp/pre17/"
EXIT_CODE = 4  # what e86d01b's analyze returned: INCONCLUSIVE
REL, ABS = 1e-9, 1e-9  # floats: the same arithmetic, give or take summation order


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """(stored verdict.json, the one the current tree writes for a copy of the same run)."""
    run_dir = tmp_path_factory.mktemp("stored") / "20261202-215018-quick"
    shutil.copytree(STORED, run_dir, ignore=shutil.ignore_patterns("verdict*.json", "README.md"))
    for packed in (run_dir / "heap").glob("*.tracemalloc.gz"):
        packed.with_suffix("").write_bytes(gzip.decompress(packed.read_bytes()))
        packed.unlink()
    meta = run_dir / "run.json"
    meta.write_text(meta.read_text().replace(f'"{PRODUCED_IN}', f'"{REPO}/'))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "harness", "analyze", str(run_dir), "--no-report", "--no-history"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == EXIT_CODE, output
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "events.jsonl",
        "heap",
        "run.json",
        "samples.csv",
        "verdict.json",
    ], f"--no-report wrote more than verdict.json\n{output}"
    stored = json.loads((STORED / "verdict-calibrated.json").read_text())
    return stored, json.loads((run_dir / "verdict.json").read_text())


def differences(stored: Any, new: Any, path: str = "verdict") -> list[str]:
    """Where `new` differs from `stored`: floats within REL/ABS, everything else exactly."""
    if isinstance(stored, dict) and isinstance(new, dict):
        keys = sorted(set(stored) | set(new))
        return [d for k in keys for d in differences(stored.get(k), new.get(k), f"{path}.{k}")]
    if isinstance(stored, list) and isinstance(new, list):
        if len(stored) != len(new):
            return [f"{path}: {len(stored)} items stored, {len(new)} now"]
        return [
            d
            for i, (a, b) in enumerate(zip(stored, new, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    if _number(stored) and _number(new):
        if math.isclose(stored, new, rel_tol=REL, abs_tol=ABS):
            return []
    elif stored == new and type(stored) is type(new):
        return []
    return [f"{path}: stored {stored!r}, now {new!r}"]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def test_the_verdict_is_the_stored_one(judged: tuple[dict[str, Any], dict[str, Any]]) -> None:
    stored, new = judged
    assert (new["verdict"], new["reason"]) == (stored["verdict"], stored["reason"])
    assert stored["verdict"] == "INCONCLUSIVE"  # the data, not the code: e86d01b's answer
    for key in ("classes", "deciding_series", "requests_measured", "hours_to_limit"):
        assert new[key] == stored[key], key
    for key in ("bytes_per_request", "detectable_bytes_per_request", "growth_mb_per_hour"):
        assert new[key] == pytest.approx(stored[key], rel=REL, abs=ABS), key
    assert new["interval"] == pytest.approx(stored["interval"], rel=REL, abs=ABS)


def test_every_series_is_decided_as_before(judged: tuple[dict[str, Any], dict[str, Any]]) -> None:
    stored, new = judged
    assert [s["name"] for s in new["series"]] == [s["name"] for s in stored["series"]]
    for before, now in zip(stored["series"], new["series"], strict=True):
        decision = ("leaking", "judged", "reason", "label", "unit")
        assert {k: now[k] for k in decision} == {k: before[k] for k in decision}, before["name"]
        assert not differences(before["trend"], now["trend"], before["name"]), before["name"]


def test_the_whole_verdict_json_is_as_before(judged: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Figures, suspects, checklist, rules and the run's summary included."""
    found = differences(*judged)
    assert not found, "\n".join([f"{len(found)} difference(s) from the stored verdict:", *found])


def test_e86d01b_decisions_still_hold(judged: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """What the calibration left alone: the verdict, its deciding series, every series'
    decision and the Theil-Sen slopes, the suspects and the checklist's statuses."""
    original = json.loads((STORED / "verdict.json").read_text())
    _, new = judged
    for key in ("verdict", "deciding_series", "classes", "requests_measured", "suspects"):
        assert new[key] == original[key], key
    assert new["bytes_per_request"] == pytest.approx(original["bytes_per_request"], rel=REL)
    for before, now in zip(original["series"], new["series"], strict=True):
        assert (now["name"], now["leaking"], now["judged"]) == (
            before["name"],
            before["leaking"],
            before["judged"],
        )
        if before["trend"] is not None:
            assert now["trend"]["slope"] == pytest.approx(before["trend"]["slope"], rel=REL)
    assert [c["status"] for c in new["checklist"]] == [c["status"] for c in original["checklist"]]
