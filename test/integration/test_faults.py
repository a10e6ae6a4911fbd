"""The fault matrix, against real runs (the bundled service in the cgroup sandbox, the tiny
fault scenario): every fault leaves its outcome and exit code, the samples taken up to it, a
run directory `analyze` reads without a traceback, and nothing running or mounted behind.
`benchmarks/fault_matrix.py` prints the same rows as the table in benchmarks/RESULTS.md."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.faults import FAULTS, Fault, can_mount, cgroups_work, run_fault

pytestmark = pytest.mark.skipif(not cgroups_work(), reason="no writable memory cgroup here")

MOUNTS = {"--out unwritable", "disk full"}


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault(fault: Fault, tmp_path: Path) -> None:
    if fault.name in MOUNTS and not can_mount():
        pytest.skip("needs root to mount a tmpfs")
    outcome = run_fault(fault, tmp_path)
    context = f"{outcome.to_json()}"
    assert outcome.tracebacks == 0, context
    assert outcome.leftovers == [], context
    assert outcome.exit_code == fault.exit_code, context
    assert outcome.run_dir == fault.run_dir, context
    if not fault.run_dir:
        return
    assert outcome.status == fault.status, context
    if fault.samples:
        assert outcome.samples > 0, context
    # analyzable: a verdict or one line saying why not, and 1 only for what is a finding
    assert outcome.analyze_exit is not None and outcome.analyze_says, context
    if outcome.analyze_exit == 1:
        assert fault.finding is not None, context
        assert outcome.failed_items, context
        assert all(item.startswith(fault.finding) for item in outcome.failed_items), context
