"""Whether a run can be judged at all: a verdict needs samples under load, and a run that
never booted, recorded nothing, or died in its warm-up has none. Such a run is INCONCLUSIVE
with the reason, never judged on its warm-up: a clean service grows while it warms up
(imports, pools, caches filling), so warm-up growth would call it LEAK, and a warm-up too
short to show it would call it NO LEAK."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.rundir import SampleRow

#: the fewest samples under load a trend is fitted on (fit_growth's own floor)
MIN_WINDOW = 6


@dataclass(frozen=True)
class Unjudged:
    """Why a run cannot be judged. `infrastructure`: the run's machinery failed (it ended in
    an error before its load, or recorded no sample), so analyze exits 3, as the run itself
    did, and not 4: INCONCLUSIVE says "not enough evidence, run longer", and running longer
    mends neither a sandbox that never booted nor a sampler that wrote nothing (nor may
    --inconclusive-ok turn it into a pass)."""

    reason: str
    infrastructure: bool


def outcome_of(meta: dict[str, Any]) -> tuple[str, str]:
    """The run's status, and how to say it: 'error: <the first line of the error>'."""
    outcome = meta.get("outcome") or {}
    status = str(outcome.get("status") or "running")
    error = str(outcome.get("error") or "").strip().splitlines()
    return status, f"{status}: {error[0]}" if error else status


def load_rows(samples: list[SampleRow]) -> list[SampleRow]:
    return [row for row in samples if row["phase"].startswith("load")]


def unjudged(samples: list[SampleRow], meta: dict[str, Any]) -> Unjudged | None:
    """None when the run has MIN_WINDOW samples under load (the window rules then decide),
    else why it cannot be judged."""
    load = load_rows(samples)
    if len(load) >= MIN_WINDOW:
        return None
    status, outcome = outcome_of(meta)
    if status == "error" and not load:
        return Unjudged(f"the run never reached load (outcome: {outcome}) — nothing to judge", True)
    if not samples:
        return Unjudged(
            f"the run recorded no samples (outcome: {outcome}): its sampler never wrote one "
            "— nothing to judge",
            True,
        )
    if status == "completed":
        return Unjudged(
            f"only {len(load)} samples under load ({MIN_WINDOW} needed): run a longer load phase",
            False,
        )
    return Unjudged(
        f"the run ended at {samples[-1]['phase']}, before enough load (outcome: {outcome}; "
        f"{len(load)} samples under load, {MIN_WINDOW} needed)",
        status == "error",
    )


#: how a run ends when its machinery (the sandbox, the load, the run directory, the harness)
#: or the target itself failed it: whatever its samples say, it tested nothing to the end
FAILED_RUN = ("error", "crashed", "target-exited")


def failed_run(meta: dict[str, Any]) -> str | None:
    """Why the run's exit code is 3 whatever its samples show (None: it is the verdict's).
    A run that failed mid-load is judged and its verdict shown, but neither a LEAK nor a
    checklist FAIL of a failed run is a finding: a dead upstream, a full disk or a crashed
    target make the service look broken or leaky when it is not."""
    status, outcome = outcome_of(meta)
    if status not in FAILED_RUN:
        return None
    return f"the run failed (outcome: {outcome}): its verdict is not a finding"
