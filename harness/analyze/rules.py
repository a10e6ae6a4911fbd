"""What counts as a leak: the scenario's thresholds as the verdict reads them, overridable at
analyze time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.rundir import read_meta

#: the scenario's leak_bytes_per_request that asks for the limit's threshold instead
FROM_LIMIT = "limit"


@dataclass(frozen=True)
class Rules:
    """What counts as a leak; from the scenario's thresholds, overridable at analyze time."""

    leak_bytes_per_request: float = 256.0
    #: a memory series must also grow this much over the window to be called a leak: less
    #: is what an allocator settles by (arenas, heap top padding, page-sized steps), and a
    #: short window with a few hundred requests turns that into a steep slope
    min_leak_growth_mb: float = 1.0
    production_rps: float = 20.0
    container_limit_mb: float = 2048.0
    #: the horizon asked about: a leak that fills the container's headroom within it at
    #: production_rps (harness/analyze/horizon.py); shown in every verdict
    time_to_limit_h: float = 168.0
    #: judge on that leak's size instead of leak_bytes_per_request (`leak_bytes_per_request =
    #: "limit"` in the scenario's thresholds)
    threshold_from_limit: bool = False
    #: times the run judged itself to stop once decided (run.json "looks"): each look spends
    #: 1/looks of the error budgets (harness/analyze/growth.py)
    looks: float = 1.0


def rules_from_run(run_dir: Path, **overrides: float | None) -> Rules:
    meta = read_meta(run_dir)
    thresholds = (meta.get("scenario") or {}).get("thresholds") or {}
    from_limit = thresholds.get("leak_bytes_per_request") == FROM_LIMIT
    known: dict[str, Any] = {
        k: float(thresholds[k])
        for k in Rules.__dataclass_fields__
        if k in thresholds and k != "threshold_from_limit" and thresholds[k] != FROM_LIMIT
    }
    known["looks"] = float(len(meta.get("looks") or []) or 1)
    known.update({k: float(v) for k, v in overrides.items() if v is not None})
    # a threshold given at analyze time is the one asked for
    known["threshold_from_limit"] = from_limit and overrides.get("leak_bytes_per_request") is None
    return Rules(**known)
