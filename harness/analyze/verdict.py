"""The run's verdict: LEAK, NO LEAK or INCONCLUSIVE, the series that decided it, and what
kind of memory grows.

Only the measured load phases count (warm-up, idle and cleanup are excluded), and growth is
per request, so a faster or slower run of the same service gives the same figure. A memory
series that grew is a leak only if it kept that growth once the load stopped and the garbage
was collected (`harness/analyze/kept.py`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.analyze.attribution import classify
from harness.analyze.ceiling import Reached, memory_at_limit, resources_at_limit
from harness.analyze.growth import GrowthFit, fit_growth
from harness.analyze.horizon import Horizon, horizon
from harness.analyze.kept import after_collection, kept
from harness.analyze.memray import attach_heap
from harness.analyze.projection import hours_to_limit
from harness.analyze.resources import judge_resource, resource_floor
from harness.analyze.rules import Rules as Rules  # its home was here
from harness.analyze.rules import rules_from_run as rules_from_run
from harness.analyze.window import Unjudged, load_rows, stalled, unjudged
from harness.analyze.window import measured_rows as measured_rows  # its home was here
from harness.rundir import read_events, read_meta, read_samples
from harness.series import HEAP_SERIES, MEMORY_SERIES, RESOURCE_SERIES
from harness.units import MIB

#: how a memory series that grows by less than the threshold is described
UNDER = "grows, but under"
#: how a memory series that grew under load but gave it back is described
NOT_KEPT = "grew under load, but did not keep it"

LEAK = "LEAK"
NO_LEAK = "NO LEAK"
INCONCLUSIVE = "INCONCLUSIVE"

#: the series memray's own memory is part of, in a profiled run
PROFILER_INFLATED = ("container_anon", "working_set", "rss", "app_malloc")


@dataclass
class SeriesGrowth:
    name: str
    label: str
    unit: str
    leaking: bool
    reason: str
    trend: dict[str, Any] | None
    #: counts toward the verdict (a series can be shown only: see `_shown_only`)
    judged: bool = True
    #: of a memory series that grew: what it kept per request once the load stopped and the
    #: garbage was collected (None: not grown, or no such reading)
    kept_bytes_per_request: float | None = None


@dataclass
class Verdict:
    verdict: str
    reason: str
    classes: list[str]
    deciding_series: str | None
    bytes_per_request: float | None
    interval: tuple[float, float] | None
    detectable_bytes_per_request: float | None
    growth_mb_per_hour: float | None  # at the production request rate
    hours_to_limit: float | None
    requests_measured: int
    series: list[SeriesGrowth] = field(default_factory=list)
    rules: dict[str, float] = field(default_factory=dict)
    #: the leak that reaches the container's limit within rules.time_to_limit_h at
    #: production_rps, and the sentence that says so (None without a container level)
    limit_bytes_per_request: float | None = None
    limit_question: str | None = None
    #: of a NO LEAK or INCONCLUSIVE run: what ruling out leaks above its bound means for the
    #: limit ("... at least N days away")
    limit_ruled_out: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        """From to_json()'s fields (verdict.json holds them at its top level, among others)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        interval = known.get("interval")
        return cls(
            **{
                **known,
                "interval": tuple(interval) if interval is not None else None,
                "series": [SeriesGrowth(**s) for s in known.get("series") or []],
            }
        )


def load_samples(run_dir: Path) -> list[dict[str, str]]:
    """samples.csv's rows; in a run profiled with memray, each with memray's heap at its time."""
    rows = read_samples(run_dir)
    attach_heap(run_dir, rows)
    return rows


def _column(rows: list[dict[str, str]], name: str) -> list[float]:
    return [float(row[name]) if row.get(name) not in (None, "") else math.nan for row in rows]


def _judge_memory(name: str, found: GrowthFit | None, rules: Rules) -> tuple[bool, str]:
    if found is None:
        return False, "not enough samples"
    if not found.significant:
        return False, f"no significant trend (z={found.z:.1f}, needs {found.critical:.1f})"
    if found.step:
        return False, "a single step, not a trend"
    if not found.sustained:
        return False, "grew, then levelled off (plateau)"
    if found.slope < rules.leak_bytes_per_request:
        return False, f"{UNDER} {rules.leak_bytes_per_request:.0f} B/request"
    if found.total_growth < rules.min_leak_growth_mb * MIB:
        return False, (
            f"grows, but only {found.total_growth / MIB:.2f} MiB over the window (a leak must "
            f"grow {rules.min_leak_growth_mb:g} MiB: less is allocator settling); run longer"
        )
    return True, "sustained growth"


def _shown_only(name: str, trends: dict[str, GrowthFit]) -> str | None:
    """Why a memory series is shown but not judged, or None when it is judged."""
    if HEAP_SERIES in trends and name in PROFILER_INFLATED:
        return "shown, not judged: holds memray's own memory (memray's heap is judged)"
    if name == "working_set" and "container_anon" in trends:
        return "shown, not judged: page cache drifts (anon+shm is judged)"
    return None


def _judged_memory(trends: dict[str, GrowthFit]) -> list[str]:
    """The memory series the verdict rests on (the working set only without anon+shm; in a
    profiled run, not those memray's own memory inflates)."""
    return [k for k in MEMORY_SERIES if k in trends and _shown_only(k, trends) is None]


def _no_leak_or_inconclusive(
    trends: dict[str, GrowthFit], rules: Rules, deciding: str | None
) -> tuple[str, str, str | None]:
    """With nothing leaking, NO LEAK needs every judged memory series to rule out a leak of
    the threshold's size: the whole window's 95% interval must end below it (the
    confidence-interval form of an equivalence test; one bound, never the smaller of two, so
    a leak at the threshold is ruled out wrongly at most 2.5% of the time, and no correction
    for the number of series is needed: every one must rule it out). A series that cannot
    leaves the run INCONCLUSIVE, and is named: it could hide a leak of that size."""
    threshold = rules.leak_bytes_per_request
    judged = _judged_memory(trends)
    open_ended = [k for k in judged if trends[k].ruled_out_above >= threshold]
    if open_ended:
        worst = max(open_ended, key=lambda k: trends[k].ruled_out_above)
        found = trends[worst]
        return (
            INCONCLUSIVE,
            f"{MEMORY_SERIES[worst]}: a leak up to {found.ruled_out_above:,.0f} B/request "
            f"cannot be ruled out (threshold {threshold:,.0f}; this run could detect "
            f"{_detectable(found, rules):,.0f} B/request); run longer or with more load",
            worst,
        )
    bound = max(trends[k].ruled_out_above for k in judged)
    return (
        NO_LEAK,
        f"no sustained growth; leaks above {max(bound, 0):,.0f} B/request ruled out "
        f"(95%) in {', '.join(MEMORY_SERIES[k] for k in judged)}",
        deciding,
    )


def _detectable(found: GrowthFit, rules: Rules) -> float:
    """The smallest leak the LEAK rule finds 80% of the time in this run (its threshold too)."""
    return found.detectable_over(rules.leak_bytes_per_request, rules.min_leak_growth_mb * MIB)


def _not_kept(per_request: float, rules: Rules) -> str:
    return (
        f"{NOT_KEPT}: once the load stopped and the garbage was collected it held "
        f"{per_request:,.0f} B/request over the window's start, under "
        f"{rules.leak_bytes_per_request:,.0f} (what requests held in flight)"
    )


def _not_judged(early: Unjudged, samples: list[dict[str, str]], rules: Rules) -> Verdict:
    requests = _column(load_rows(samples), "requests")
    return Verdict(
        verdict=INCONCLUSIVE,
        reason=early.reason,
        classes=[],
        deciding_series=None,
        bytes_per_request=None,
        interval=None,
        detectable_bytes_per_request=None,
        growth_mb_per_hour=None,
        hours_to_limit=None,
        requests_measured=int(requests[-1] - requests[0]) if len(requests) > 1 else 0,
        rules=asdict(rules),
    )


def _at_limit(result: Verdict, at_limit: list[Reached], rules: Rules) -> Verdict:
    """A limit reached is a leak whatever the fit saw (harness/analyze/ceiling.py): each series
    that reached one is leaking, with that evidence; the first decides, or a LEAK already
    found adds it."""
    if not at_limit:
        return result
    why = {r.series: r.reason for r in at_limit}
    series = [
        replace(s, leaking=True, reason=why[s.name]) if s.name in why else s for s in result.series
    ]
    reached = at_limit[0]
    if result.verdict == LEAK:
        return replace(result, reason=f"{result.reason}; {reached.reason}", series=series)
    per_request = reached.per_request
    return replace(
        result,
        verdict=LEAK,
        reason=reached.reason,
        deciding_series=reached.series,
        classes=[f"resources:{r.series}" for r in at_limit if r.per_request is None],
        bytes_per_request=per_request,
        interval=None,
        growth_mb_per_hour=per_request * rules.production_rps * 3600 / MIB
        if per_request is not None
        else None,
        hours_to_limit=0.0 if per_request is not None else None,
        series=series,
    )


def _with_horizon(result: Verdict, found: Horizon | None, trends: dict[str, GrowthFit]) -> Verdict:
    if found is None:
        return result
    ruled_out = None
    judged = _judged_memory(trends)
    if result.verdict != LEAK and judged:
        ruled_out = found.ruled_out(max(trends[k].ruled_out_above for k in judged))
    return replace(
        result,
        limit_bytes_per_request=found.bytes_per_request,
        limit_question=found.question(),
        limit_ruled_out=ruled_out,
    )


def judge(run_dir: Path, rules: Rules) -> Verdict:
    samples = load_samples(run_dir)
    meta = read_meta(run_dir)
    limit = horizon(
        load_rows(samples),
        meta,
        rules.production_rps,
        rules.time_to_limit_h,
        rules.container_limit_mb,
    )
    if rules.threshold_from_limit and limit is not None:
        rules = replace(rules, leak_bytes_per_request=limit.bytes_per_request)
    early = unjudged(samples, meta)
    events = read_events(run_dir)
    memory = memory_at_limit(
        samples, meta, events, rules.leak_bytes_per_request, rules.min_leak_growth_mb * MIB
    )
    reached = [memory] if memory else []
    floor = resource_floor(load_rows(samples))
    reached += resources_at_limit(samples, meta, floor)
    if early is not None:
        return _with_horizon(
            _at_limit(_not_judged(early, samples, rules), reached, rules), limit, {}
        )
    rows, note = measured_rows(samples)
    after = after_collection(samples, events, float(rows[-1]["time"]) if rows else math.inf)
    requests = _column(rows, "requests")
    measured = int(requests[-1] - requests[0]) if len(requests) > 1 else 0
    series: list[SeriesGrowth] = []
    leaking: dict[str, GrowthFit] = {}
    trends: dict[str, GrowthFit] = {}
    for name, label in {**MEMORY_SERIES, **RESOURCE_SERIES}.items():
        values = _column(rows, name)
        if not values or all(math.isnan(v) for v in values):
            continue
        found = fit_growth(requests, values, share=1.0 / rules.looks)
        shown_only = _shown_only(name, trends) if name in MEMORY_SERIES else None
        kept_per_request: float | None = None
        if shown_only is not None:
            is_leak, reason = False, shown_only
        elif name in MEMORY_SERIES:
            is_leak, reason = _judge_memory(name, found, rules)
            held = kept(requests, values, _column(after, name)) if is_leak else None
            if held is not None:
                kept_per_request = held.per_request
                if kept_per_request < rules.leak_bytes_per_request:
                    is_leak, reason = False, _not_kept(kept_per_request, rules)
        else:
            is_leak, reason = judge_resource(found, floor)
        unit = "B/request" if name in MEMORY_SERIES else "per request"
        series.append(
            SeriesGrowth(
                name,
                label,
                unit,
                is_leak,
                reason,
                asdict(found) if found else None,
                judged=shown_only is None,
                kept_bytes_per_request=kept_per_request,
            )
        )
        if found is not None:
            trends[name] = found
            if is_leak:
                leaking[name] = found
    deciding: str | None = next(iter(_judged_memory(trends)), None)
    main = trends.get(deciding) if deciding else None
    memory_leaks = [k for k in MEMORY_SERIES if k in leaking]
    resource_leaks = [k for k in RESOURCE_SERIES if k in leaking]
    if memory_leaks or resource_leaks:
        # The strongest evidence decides: the interval furthest above zero. A heap leak shows
        # first and tightest in the heap, while anon+shm trails it as the allocator reuses
        # free pages; in the long run the container grows at least as fast as its heap.
        deciding = (
            max(memory_leaks, key=lambda name: leaking[name].low)
            if memory_leaks
            else resource_leaks[0]
        )
        main = leaking[deciding]
        verdict, reason = (
            LEAK,
            f"{dict(MEMORY_SERIES, **RESOURCE_SERIES)[deciding]}: sustained growth",
        )
    elif main is None:
        verdict, reason = INCONCLUSIVE, "no memory series with enough samples in the load phases"
    else:
        verdict, reason, deciding = _no_leak_or_inconclusive(trends, rules, deciding)
        given_back = next((s for s in series if s.name == deciding), None)
        if verdict == INCONCLUSIVE and given_back and given_back.reason.startswith(NOT_KEPT):
            reason += (
                f" (it grew under load but kept {given_back.kept_bytes_per_request:,.0f} "
                "B/request once the load stopped and the garbage was collected)"
            )
        under = [s for s in series if s.name in MEMORY_SERIES and s.reason.startswith(UNDER)]
        if verdict == NO_LEAK and under:
            # a small leak is still growth: say so, with its size, rather than "no growth"
            grows = ", ".join(f"{s.label} {(s.trend or {}).get('slope', 0):,.0f}" for s in under)
            reason = reason.replace(
                "no sustained growth", f"growth under the threshold only ({grows} B/request)"
            )
        main = trends[deciding] if deciding else main
    is_bytes = deciding in MEMORY_SERIES if deciding else False
    per_hour = None
    if main is not None and is_bytes:
        per_hour = main.slope * rules.production_rps * 3600 / MIB
    hours = None
    if per_hour and per_hour > 0 and verdict == LEAK:
        hours = hours_to_limit(rows, meta, rules.container_limit_mb, per_hour)
    result = Verdict(
        verdict=verdict,
        reason=f"{reason}; {note}" if note else reason,
        classes=classify(leaking),
        deciding_series=deciding,
        bytes_per_request=main.slope if main and is_bytes else None,
        interval=(main.low, main.high) if main and is_bytes else None,
        detectable_bytes_per_request=_detectable(main, rules) if main and is_bytes else None,
        growth_mb_per_hour=per_hour,
        hours_to_limit=hours,
        requests_measured=measured,
        series=series,
        rules=asdict(rules),
    )
    stall = stalled(rows)
    if not reached and stall is not None:
        reason = f"{stall}; {note}" if note else stall
        result = replace(result, verdict=INCONCLUSIVE, reason=reason, hours_to_limit=None)
        return _with_horizon(result, limit, {})
    return _with_horizon(_at_limit(result, reached, rules), limit, trends)
