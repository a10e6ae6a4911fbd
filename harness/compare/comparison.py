"""Two runs compared (`leak-harness compare A B`): does the candidate B leak more than the
baseline A? This is the pull-request check: A from main, B from the branch, same scenario.

Growth per request is compared series by series, on the memory series both runs judged
(container anon+shm, RSS, Python heap, malloc in use; the working set only where anon+shm is
missing). Each run gives a Theil-Sen slope with a 95% interval; its standard error is taken as
(high - low) / (2 * 1.96) and the two are combined in quadrature, so the difference B - A has
the interval (B - A) +/- 1.96 * sqrt(se_A^2 + se_B^2). The Theil-Sen interval is asymmetric
and measures noise within one run only, not between runs; hence the second condition:

- "B leaks more than A" when, on some series, the interval's lower bound is above 0 AND
  B - A exceeds the leak threshold (default: B's rules.leak_bytes_per_request, 256 B/request);
- "B leaks less than A" symmetrically (upper bound below 0, B - A below -threshold);
- "no difference" otherwise, with a note naming each series whose interval is too wide to
  rule out a difference of the threshold's size (step-like series such as RSS over a short
  run): on that series the runs could not tell.

Every judged series counts, not one preferred series: a Python-heap leak of 1 KiB/request
often leaves anon+shm and RSS flat over a short run (the allocator's arenas absorb it), so a
check on anon+shm alone would pass it. `series=` pins one series. The deciding series is the
one with the largest difference that passed, or the first of SERIES_ORDER both runs have.

Repeated runs per side (A, B, A, B back to back) are merged by `pool()` into one analysis
document before `compare()`: each series' slopes are averaged with inverse-variance weights,
and when the runs of one build disagree more than their own intervals allow, the
between-run variance (DerSimonian-Laird) is added to every run's, which widens the pooled
interval. That is what a single run cannot give: noise between runs, not just within one."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.analyze.growth import Z95
from harness.series import MEMORY_SERIES

SERIES_ORDER = ("container_anon", "rss", "app_heap", "app_malloc", "working_set")
B_MORE = "B leaks more than A"
B_LESS = "B leaks less than A"
SAME = "no difference"
DEFAULT_THRESHOLD = 256.0


@dataclass(frozen=True)
class Growth:
    """One run's growth of one series, B/request, with its 95% interval."""

    slope: float
    low: float
    high: float

    @property
    def standard_error(self) -> float:
        return max(self.high - self.low, 0.0) / (2 * Z95)


@dataclass(frozen=True)
class SeriesDifference:
    series: str
    label: str
    a: Growth
    b: Growth
    difference: float  # B - A, B/request
    low: float  # its 95% interval
    high: float


@dataclass(frozen=True)
class FigureDifference:
    name: str
    unit: str
    a: float | None
    b: float | None

    @property
    def difference(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def relative(self) -> float | None:
        return None if self.difference is None or not self.a else self.difference / self.a


@dataclass
class Comparison:
    a_id: str
    b_id: str
    verdict: str  # B_MORE, B_LESS, SAME
    reason: str
    deciding_series: str | None
    threshold: float
    series: list[SeriesDifference]
    figures: list[FigureDifference]
    notes: list[str] = field(default_factory=list)

    @property
    def b_leaks_more(self) -> bool:
        return self.verdict == B_MORE

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["figures"] = [
            {**asdict(f), "difference": f.difference, "relative": f.relative} for f in self.figures
        ]
        return document


def growths(analysis_json: Mapping[str, Any]) -> dict[str, Growth]:
    """The memory series a run's analysis judged, with their growth."""
    found: dict[str, Growth] = {}
    for series in analysis_json.get("series") or []:
        trend = series.get("trend")
        if series.get("name") in MEMORY_SERIES and isinstance(trend, Mapping):
            values = [trend.get(k) for k in ("slope", "low", "high")]
            numbers = [float(v) for v in values if isinstance(v, int | float)]
            if len(numbers) == 3 and all(math.isfinite(v) for v in numbers):
                found[str(series["name"])] = Growth(*numbers)
    return found


def difference(name: str, a: Growth, b: Growth) -> SeriesDifference:
    spread = Z95 * math.hypot(a.standard_error, b.standard_error)
    delta = b.slope - a.slope
    return SeriesDifference(
        name, MEMORY_SERIES.get(name, name), a, b, delta, delta - spread, delta + spread
    )


def _threshold(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    for document in (b, a):
        value = (document.get("rules") or {}).get("leak_bytes_per_request")
        if isinstance(value, int | float):
            return float(value)
    return DEFAULT_THRESHOLD


def _figure(a: Mapping[str, Any], b: Mapping[str, Any], name: str, unit: str) -> FigureDifference:
    def value(document: Mapping[str, Any]) -> float | None:
        found = (document.get("figures") or {}).get(name)
        return float(found) if isinstance(found, int | float) else None

    return FigureDifference(name, unit, value(a), value(b))


def compare(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    threshold: float | None = None,
    series: str | None = None,
) -> Comparison:
    """Compare two analyses (verdict.json documents). Raises ValueError when they have no
    memory series in common."""
    limit = _threshold(a, b) if threshold is None else threshold
    grown_a, grown_b = growths(a), growths(b)
    shared = [k for k in SERIES_ORDER if k in grown_a and k in grown_b]
    if "container_anon" in shared and "working_set" in shared:
        shared.remove("working_set")  # page cache drifts; analyze does not judge it either
    if series is not None:
        if series not in shared:
            raise ValueError(
                f"series {series!r} is not judged in both runs (both have: "
                f"{', '.join(shared) or 'none'})"
            )
        shared = [series]
    if not shared:
        raise ValueError("the two runs have no judged memory series in common")
    diffs = [difference(k, grown_a[k], grown_b[k]) for k in shared]
    more = [d for d in diffs if d.low > 0 and d.difference > limit]
    less = [d for d in diffs if d.high < 0 and d.difference < -limit]
    if more:
        deciding = max(more, key=lambda d: d.difference)
        verdict = B_MORE
    elif less:
        deciding = min(less, key=lambda d: d.difference)
        verdict = B_LESS
    else:
        deciding = diffs[0]
        verdict = SAME
    reason = (
        f"{deciding.label}: B - A = {deciding.difference:+,.0f} B/request "
        f"(95% CI {deciding.low:+,.0f} .. {deciding.high:+,.0f}), threshold {limit:,.0f}"
    )
    if verdict == SAME:
        reason = f"no series differs by more than {limit:,.0f} B/request with 95% confidence"
    run_a, run_b = a.get("run") or {}, b.get("run") or {}
    notes = []
    if run_a.get("scenario") != run_b.get("scenario"):
        notes.append(
            f"different scenarios ({run_a.get('scenario')} vs {run_b.get('scenario')}): "
            "growth per request may differ for that reason alone"
        )
    for name, run in (("A", run_a), ("B", run_b)):
        if run.get("status") not in (None, "completed"):
            notes.append(f"{name} did not complete ({run.get('status')})")
    if verdict == SAME:  # "no difference" is only as good as the interval behind it
        notes += [
            f"{d.label}: B - A could be anywhere in {d.low:+,.0f} .. {d.high:+,.0f} B/request, "
            f"wider than the threshold: this series cannot rule out a difference of "
            f"{limit:,.0f} (run longer, or repeat the runs alternating A and B)"
            for d in diffs
            if d.low < -limit or d.high > limit
        ]
    return Comparison(
        a_id=str(run_a.get("id", "A")),
        b_id=str(run_b.get("id", "B")),
        verdict=verdict,
        reason=reason,
        deciding_series=deciding.series,
        threshold=limit,
        series=diffs,
        figures=[
            _figure(a, b, "peak_bytes", "bytes"),
            _figure(a, b, "startup_bytes", "bytes"),
            _figure(a, b, "requests_per_s", "requests/s"),
        ],
        notes=notes,
    )


def pool_growths(found: Sequence[Growth]) -> Growth:
    """Inverse-variance weighted mean of one series' growth over repeated runs of one build,
    with the DerSimonian-Laird between-run variance added when the runs disagree."""
    if len(found) == 1:
        return found[0]
    variances = [max(g.standard_error, 1e-6) ** 2 for g in found]
    weights = [1 / v for v in variances]
    total = sum(weights)
    fixed = sum(w * g.slope for w, g in zip(weights, found, strict=True)) / total
    q = sum(w * (g.slope - fixed) ** 2 for w, g in zip(weights, found, strict=True))
    spread = total - sum(w * w for w in weights) / total
    between = max(0.0, (q - (len(found) - 1)) / spread) if spread > 0 else 0.0
    weights = [1 / (v + between) for v in variances]
    total = sum(weights)
    slope = sum(w * g.slope for w, g in zip(weights, found, strict=True)) / total
    half = Z95 / math.sqrt(total)
    return Growth(slope, slope - half, slope + half)


def pool(analyses: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Repeated runs of one build as one analysis document that `compare()` takes: the memory
    series every run judged, pooled; figures averaged; rules from the first run. Raises
    ValueError when the runs have no judged memory series in common."""
    if not analyses:
        raise ValueError("no runs to pool")
    if len(analyses) == 1:
        return dict(analyses[0])
    each = [growths(a) for a in analyses]
    names = [k for k in SERIES_ORDER if all(k in g for g in each)]
    if not names:
        raise ValueError("the repeated runs have no judged memory series in common")
    runs = [a.get("run") or {} for a in analyses]
    scenarios = {str(r.get("scenario")) for r in runs}
    unfinished = [str(r.get("status")) for r in runs if r.get("status") not in (None, "completed")]
    figures: dict[str, float | None] = {}
    for name in ("peak_bytes", "startup_bytes", "requests_per_s"):
        values = [(a.get("figures") or {}).get(name) for a in analyses]
        numbers = [float(v) for v in values if isinstance(v, int | float)]
        figures[name] = sum(numbers) / len(numbers) if numbers else None
    series = []
    for name in names:
        pooled = pool_growths([g[name] for g in each])
        trend = {"slope": pooled.slope, "low": pooled.low, "high": pooled.high}
        series.append({"name": name, "trend": trend, "runs": len(analyses)})
    return {
        "run": {
            "id": "+".join(str(r.get("id", "?")) for r in runs),
            "scenario": scenarios.pop() if len(scenarios) == 1 else "mixed",
            "status": unfinished[0] if unfinished else "completed",
        },
        "rules": dict(analyses[0].get("rules") or {}),
        "figures": figures,
        "series": series,
    }
