"""A run that stops once it can decide: during the measured load it judges itself at the
scenario's look times (`load.scenario.look_times`), with the same verdict code and rules the
analysis uses afterwards, each look spending its share of the error budgets
(harness/analyze/growth.py). A look that finds NO LEAK ends the load there; LEAK and
INCONCLUSIVE let it go on, and the last look is the analysis of the whole run. A LEAK is not
taken early: a short window that is all growth (a cache still filling toward its bound, the
rising side of a slow GC cycle) reads as a leak until the load has run long enough to show
it level off. Stopping at an early LEAK made 85-89% of such clean series false alarms in the
calibration (benchmarks/RESULTS.md, "A run that stops once decided"); stopping at NO LEAK
made none.

What a look costs: it reads the run directory and fits its series in the harness's process
(no request to the service); its seconds are recorded in the look's event."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from harness.analyze.sequential import LOOK_EVENT
from harness.analyze.verdict import NO_LEAK, judge, rules_from_run
from harness.rundir import RunDirectory


@dataclass
class Looks:
    """The look times (seconds into the measured load); the last is not taken here."""

    times: list[float]
    taken: int = 0
    load_started: float | None = field(default=None, repr=False)

    def load_began(self, now: float) -> None:
        if self.load_started is None:
            self.load_started = now

    def due(self, now: float) -> bool:
        if self.load_started is None or self.taken >= len(self.times) - 1:
            return False
        return now - self.load_started >= self.times[self.taken]

    def take(self, run: RunDirectory) -> bool:
        """Judge the run so far; True when it is NO LEAK and the load should end."""
        self.taken += 1
        started = time.monotonic()
        verdict = judge(run.path, rules_from_run(run.path))
        decided = verdict.verdict == NO_LEAK
        run.event(
            LOOK_EVENT,
            index=self.taken,
            at_s=round(self.times[self.taken - 1], 1),
            verdict=verdict.verdict,
            reason=verdict.reason,
            stop=decided,
            seconds=round(time.monotonic() - started, 3),
        )
        return decided
