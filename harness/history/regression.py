"""Regressions and change points in the run history (`leak-harness trend`), per scenario and
branch, from the history rows alone.

A run is flagged as a regression when, against the runs before it:
- leak rate: its bytes/request is above median + max(k * MAD, minimum change) of the
  `window` completed runs before it, and its own 95% interval starts above that median (a
  noisy run with a wide interval is not evidence). The minimum change is the run's own leak
  threshold (rules.leak_bytes_per_request, default 256 B/request): growth the verdict calls
  noise never flags here either;
- peak memory: its peak is above median + max(k * MAD, 16 MiB or 5% of the median, whichever
  is larger; the same tolerance as the checklist's cleanup check);
- verdict: it is LEAK while most of the runs before it were not (a resource leak, fds or
  tasks, has no bytes/request but is still a regression).
Defaults: window 10, at least 3 runs before (fewer: not judged), k = 3 with MAD scaled by
1.4826 (about 3 standard deviations for normal noise, and one outlier in the baseline cannot
move it). Only completed runs form baselines; only increases are flagged.

A change point is a lasting shift of level, not one outlier: Taylor's CUSUM test (cumulative
sums of deviations from the mean; the split is where their absolute value peaks, its
confidence the share of 1000 seeded permutations of the series whose peak is lower), split
recursively (binary segmentation). It is reported when the confidence is at least 95%, both
segments hold at least 2 runs, and the two means differ by the same minimum change."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from harness.history.store import HistoryRow
from harness.units import MIB

MAD_SCALE = 1.4826  # MAD * 1.4826 estimates the standard deviation of normal noise
DEFAULT_LEAK_THRESHOLD = 256.0
LEAK_RATE = "leak-rate"
PEAK = "peak"
VERDICT = "verdict"


@dataclass(frozen=True)
class TrendRules:
    """How far a run may stray from the runs before it before it is flagged."""

    window: int = 10  # runs before a run that form its baseline
    min_baseline: int = 3  # fewer runs before it: not judged
    k: float = 3.0  # MADs above the median
    min_leak_change: float | None = None  # B/request; None: each run's leak threshold
    min_peak_change_bytes: float = 16 * MIB
    min_peak_change_fraction: float = 0.05
    change_confidence: float = 0.95
    permutations: int = 1000
    min_segment: int = 2
    seed: int = 0  # permutations are seeded: the same history gives the same answer


@dataclass(frozen=True)
class Flag:
    """Why one run is flagged as a regression."""

    run_id: str
    metric: str  # leak-rate, peak, verdict
    value: float | None
    baseline_median: float | None
    limit: float | None  # above this, flagged
    baseline_runs: int
    reason: str


@dataclass(frozen=True)
class ChangePoint:
    """A lasting shift of one metric's level, starting at `run_id`."""

    metric: str
    run_id: str  # the first run of the new level
    before: float  # mean level of the segment before
    after: float  # mean level from this run on (to the next change point)
    confidence: float


@dataclass
class GroupTrend:
    """One scenario and branch: its runs (oldest first), their flags, its change points."""

    scenario: str
    branch: str | None
    runs: list[HistoryRow]
    flags: dict[str, list[Flag]] = field(default_factory=dict)
    change_points: list[ChangePoint] = field(default_factory=list)

    @property
    def newest_flagged(self) -> bool:
        return bool(self.runs) and bool(self.flags.get(self.runs[-1].id))


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def mad(values: Sequence[float]) -> float:
    """Median absolute deviation, scaled to a standard deviation."""
    centre = median(values)
    return MAD_SCALE * median([abs(v - centre) for v in values])


def _baseline(history: Sequence[HistoryRow], index: int, window: int) -> list[HistoryRow]:
    before = [row for row in history[:index] if row.status == "completed"]
    return before[-window:]


def _leak_flag(row: HistoryRow, before: list[HistoryRow], rules: TrendRules) -> Flag | None:
    values = [r.bytes_per_request for r in before if r.bytes_per_request is not None]
    if row.bytes_per_request is None or len(values) < rules.min_baseline:
        return None
    centre, spread = median(values), mad(values)
    minimum = rules.min_leak_change or row.leak_threshold or DEFAULT_LEAK_THRESHOLD
    limit = centre + max(rules.k * spread, minimum)
    low = row.interval_low
    if row.bytes_per_request <= limit or (low is not None and low <= centre):
        return None
    return Flag(
        row.id,
        LEAK_RATE,
        row.bytes_per_request,
        centre,
        limit,
        len(values),
        f"leak rate {row.bytes_per_request:,.0f} B/request"
        + (f" (95% CI from {low:,.0f})" if low is not None else "")
        + f" > {limit:,.0f}: median {centre:,.0f} of the {len(values)} runs before"
        f" + max({rules.k:g} x MAD {spread:,.0f}, {minimum:,.0f})",
    )


def _peak_flag(row: HistoryRow, before: list[HistoryRow], rules: TrendRules) -> Flag | None:
    values = [r.peak_bytes for r in before if r.peak_bytes is not None]
    if row.peak_bytes is None or len(values) < rules.min_baseline:
        return None
    centre, spread = median(values), mad(values)
    minimum = max(rules.min_peak_change_bytes, rules.min_peak_change_fraction * centre)
    limit = centre + max(rules.k * spread, minimum)
    if row.peak_bytes <= limit:
        return None
    return Flag(
        row.id,
        PEAK,
        row.peak_bytes,
        centre,
        limit,
        len(values),
        f"peak {row.peak_bytes / MIB:,.1f} MiB > {limit / MIB:,.1f} MiB: median "
        f"{centre / MIB:,.1f} MiB of the {len(values)} runs before + max({rules.k:g} x MAD "
        f"{spread / MIB:,.1f}, {minimum / MIB:,.1f} MiB)",
    )


def _verdict_flag(row: HistoryRow, before: list[HistoryRow], rules: TrendRules) -> Flag | None:
    if row.verdict != "LEAK" or len(before) < rules.min_baseline:
        return None
    leaks = sum(1 for r in before if r.verdict == "LEAK")
    if 2 * leaks >= len(before):
        return None
    return Flag(
        row.id,
        VERDICT,
        None,
        None,
        None,
        len(before),
        f"verdict LEAK ({row.deciding_series}) after {len(before) - leaks} of the "
        f"{len(before)} runs before were not",
    )


def regressions(history: Sequence[HistoryRow], rules: TrendRules) -> dict[str, list[Flag]]:
    """Flags per run id, each run judged against the completed runs before it."""
    found: dict[str, list[Flag]] = {}
    for index, row in enumerate(history):
        before = _baseline(history, index, rules.window)
        checks = (_leak_flag, _peak_flag, _verdict_flag)
        flags = [flag for check in checks if (flag := check(row, before, rules)) is not None]
        if flags:
            found[row.id] = flags
    return found


def _peak_cusum(values: Sequence[float], lo: int, hi: int) -> tuple[float, int]:
    """max |cumulative deviation from the mean| over the allowed splits, and where."""
    mean = sum(values) / len(values)
    total, best, at = 0.0, -1.0, lo
    for index, value in enumerate(values[:hi]):
        total += value - mean
        if index >= lo - 1 and abs(total) > best:
            best, at = abs(total), index + 1
    return best, at


def change_points(
    values: Sequence[float], min_change: float, rules: TrendRules
) -> list[tuple[int, float, float, float]]:
    """(index where the new level starts, mean before, mean after, confidence), sorted."""
    rng = random.Random(rules.seed)
    found: list[tuple[int, float, float, float]] = []

    def split(start: int, end: int) -> None:
        segment = list(values[start:end])
        n = len(segment)
        if n < 2 * rules.min_segment:
            return
        lo, hi = rules.min_segment, n - rules.min_segment
        observed, at = _peak_cusum(segment, lo, hi)
        if observed <= 0:
            return
        shuffled = list(segment)
        lower = 0
        for _ in range(rules.permutations):
            rng.shuffle(shuffled)
            lower += _peak_cusum(shuffled, lo, hi)[0] < observed
        confidence = lower / rules.permutations
        before = sum(segment[:at]) / at
        after = sum(segment[at:]) / (n - at)
        if confidence < rules.change_confidence or abs(after - before) < min_change:
            return
        found.append((start + at, before, after, confidence))
        split(start, start + at)
        split(start + at, end)

    split(0, len(values))
    return sorted(found)


def _metric_change_points(
    runs: Sequence[HistoryRow],
    metric: str,
    value: Callable[[HistoryRow], float | None],
    min_change: float,
    rules: TrendRules,
) -> list[ChangePoint]:
    kept = [(row, v) for row in runs if (v := value(row)) is not None]
    points = change_points([v for _, v in kept], min_change, rules)
    return [ChangePoint(metric, kept[i][0].id, b, a, c) for i, b, a, c in points]


def group_trend(
    history: Sequence[HistoryRow], rules: TrendRules, last: int | None = None
) -> GroupTrend:
    """One scenario+branch history (oldest first): flags judged on all of it, the newest
    `last` runs shown and searched for change points."""
    shown = list(history[-last:] if last else history)
    flags = regressions(history, rules)
    first = shown[0] if shown else None
    thresholds = [r.leak_threshold for r in shown if r.leak_threshold is not None]
    leak_change = rules.min_leak_change or (
        median(thresholds) if thresholds else DEFAULT_LEAK_THRESHOLD
    )
    peaks = [r.peak_bytes for r in shown if r.peak_bytes is not None]
    typical_peak = median(peaks) if peaks else 0.0
    peak_change = max(rules.min_peak_change_bytes, rules.min_peak_change_fraction * typical_peak)
    points = _metric_change_points(
        shown, LEAK_RATE, lambda r: r.bytes_per_request, leak_change, rules
    ) + _metric_change_points(shown, PEAK, lambda r: r.peak_bytes, peak_change, rules)
    return GroupTrend(
        scenario=first.scenario if first else "?",
        branch=first.branch if first else None,
        runs=shown,
        flags={r.id: flags[r.id] for r in shown if r.id in flags},
        change_points=points,
    )


def group_runs(rows: Sequence[HistoryRow]) -> dict[tuple[str, str | None], list[HistoryRow]]:
    """Rows (oldest first) by scenario and branch, keeping their order."""
    groups: dict[tuple[str, str | None], list[HistoryRow]] = {}
    for row in rows:
        groups.setdefault((row.scenario, row.branch), []).append(row)
    return groups
