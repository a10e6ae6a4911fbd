"""Whether a run can be judged at all, and on which samples: a verdict needs samples under
load, and a run that never booted, recorded nothing, or died in its warm-up has none. Such a
run is INCONCLUSIVE with the reason, never judged on its warm-up: a clean service grows while
it warms up (imports, pools, caches filling), so warm-up growth would call it LEAK, and a
warm-up too short to show it would call it NO LEAK. Nor is a window whose requests stopped
rising (`stalled`): growth per request says nothing where no requests were served."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from harness.rundir import SampleRow
from harness.series import MEMORY_SERIES
from harness.units import MIB

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


def measured_rows(samples: list[SampleRow]) -> tuple[list[SampleRow], str]:
    """The samples the trend is judged on: load phases at the scenario's steady user count
    (ramps, spikes and stress steps change concurrency, and memory with it). Never the
    warm-up: a clean service grows while it warms up (`unjudged` says so of a run that died
    before its load)."""
    rows = [row for row in samples if row["phase"].startswith("load")]
    note = ""
    # a sample taken while users were being added or stopped belongs to no level
    level_sizes = Counter((row["phase"], row["users"]) for row in rows)
    settled = [row for row in rows if level_sizes[(row["phase"], row["users"])] >= 3]
    rows = settled if len(settled) >= 6 else rows
    served: Counter[str] = Counter()
    for before, row in pairwise(rows):
        if (before["phase"], before["users"]) == (row["phase"], row["users"]):
            served[row["users"]] += int(
                float(row["requests"] or 0) - float(before["requests"] or 0)
            )
    if served:
        # the user count that served the most requests: the steady level of a ramp or spike,
        # the busiest of a stress run's equal steps
        steady = max(served, key=lambda users: served[users])
        if sum(1 for row in rows if row["users"] == steady) < len(rows):
            rows = [row for row in rows if row["users"] == steady]
            note = f"judged at the steady {steady} users ({len(rows)} samples)"
    return rows, note


#: requests that rose by less than this share of the window's mean rate have stopped
STALL_RATE = 0.1
#: a stall over this share of the judged window (or more) leaves the window unjudged
STALL_SHARE = 0.25
#: the stall search is O(n^2): longer windows are thinned evenly (a stall this long survives)
STALL_POINTS = 400
#: the memory series a stall's reason says the growth of, in order of preference
STALL_MEMORY = ("container_anon", "working_set", "rss")


def stalled(rows: list[SampleRow]) -> str | None:
    """Why the judged window `rows` cannot be judged per request, or None: over a stretch of
    at least STALL_SHARE of its time its requests rose by less than STALL_RATE of its mean
    rate. A hung or thrashing target serves nothing while its memory (or its fds) may still
    climb; the fit of growth against requests would see that as a steep slope, or, with a
    flat series, rule out a leak over requests that were never served. Time is counted within
    phases only: the idle between a cycles run's loads, or a spike between its steady levels,
    is not part of the window."""
    if len(rows) < 2:
        return None
    clock, served = [0.0], [0.0]
    for before, row in pairwise(rows):
        same = before["phase"] == row["phase"]
        clock.append(clock[-1] + (float(row["time"]) - float(before["time"]) if same else 0.0))
        grown = float(row["requests"] or 0) - float(before["requests"] or 0)
        served.append(served[-1] + (grown if same else 0.0))
    step = max(1, -(-len(rows) // STALL_POINTS))
    picks = [*range(0, len(rows), step)]
    picks += [len(rows) - 1] if picks[-1] != len(rows) - 1 else []
    picked = [rows[k] for k in picks]
    times = [clock[k] for k in picks]
    requests = [served[k] for k in picks]
    span = times[-1] - times[0]
    if span <= 0:
        return None
    rate = (requests[-1] - requests[0]) / span
    longest, start, end = 0.0, 0, 0
    for i in range(len(picked) - 1):
        for j in range(len(picked) - 1, i, -1):
            width = times[j] - times[i]
            if width <= longest:
                break
            if requests[j] - requests[i] <= STALL_RATE * rate * width:
                longest, start, end = width, i, j
                break
    if longest < STALL_SHARE * span:
        return None
    # the stretch may take in an interval or two of the load at either end: say the stall only
    while start < end and requests[start + 1] - requests[start] > STALL_RATE * rate * (
        times[start + 1] - times[start]
    ):
        start += 1
    while end > start and requests[end] - requests[end - 1] > STALL_RATE * rate * (
        times[end] - times[end - 1]
    ):
        end -= 1
    longest = times[end] - times[start]
    detail = (
        f"{requests[end] - requests[start]:,.0f} requests in {longest:,.0f} s of the "
        f"{span:,.0f} s judged window, from {requests[start]:,.0f} requests into it"
    )
    for name in STALL_MEMORY:
        first, last = picked[start].get(name), picked[end].get(name)
        if first and last:
            grown = (float(last) - float(first)) / MIB
            detail += f", while {MEMORY_SERIES[name]} changed by {grown:+,.1f} MiB"
            break
    return f"requests stopped rising over the window: the target stalled ({detail})"
