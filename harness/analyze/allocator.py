"""The allocator diagnosis: when resident memory (the container's anon+shm, RSS) grows and the
Python heap does not, is it a true native leak, or memory the C allocator keeps after it was
freed (holes between live blocks, per-thread arenas, large buffers let into the heap by glibc's
dynamic mmap threshold)? Both look the same in one run. The diagnosis reruns the scenario with
allocator settings that give freed memory back (harness/workflows/allocator_check.py) and
compares growth per request: a leak's growth persists, retention's goes away.

This module is the judgement and its evidence, from run directories alone: each run's growth
per request of the resident series, malloc in use and the Python heap (Theil-Sen with 95%
intervals, harness/analyze/growth.py), what the cleanup's GC and malloc_trim(0) gave back, and
the difference before - after with its interval (the two standard errors in quadrature).
Written as allocator.json into the diagnosed run, read back by analyze and the reports."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.analyze.growth import Z95, GrowthFit, fit_growth
from harness.analyze.verdict import Rules, load_samples, measured_rows
from harness.rundir import read_meta
from harness.series import MEMORY_SERIES
from harness.units import MIB

ALLOCATOR_JSON = "allocator.json"
VERSION = 1

NATIVE_LEAK = "native-leak"  # growth persists under every setting tried
RETENTION = "allocator-retention"  # growth goes away under a setting that gives memory back
NOT_APPLICABLE = "not-applicable"  # resident memory does not grow, or the Python heap explains it
INCONCLUSIVE = "inconclusive"

GONE = "gone"
PERSISTS = "persists"
REDUCED = "reduced"  # grows less, but neither gone nor still a leak's size: cannot tell
NOT_RUN = "not run"

#: the resident series the decision rests on, preferred first (as the verdict judges them)
RESIDENT = ("container_anon", "rss")
SERIES = {name: MEMORY_SERIES[name] for name in ("container_anon", "rss", "app_malloc", "app_heap")}
#: the Python heap explains the growth when it grows at least this share of it
HEAP_SHARE = 0.5


@dataclass(frozen=True)
class Growth:
    """One run's growth per request of the diagnosis series, and what its cleanup released."""

    run: str  # the run directory, relative to the diagnosed run where it lies inside it
    allocator: str  # "glibc defaults" for the diagnosed run, else the setting's name
    env: dict[str, str]
    status: str
    requests: int  # in the judged window
    series: dict[str, GrowthFit]
    #: bytes each series came down between the end of load and the cleanup's lowest sample
    #: (the cleanup asks the app to collect garbage; the bundled service also calls
    #: malloc_trim(0), which returns retained pages and not leaked ones)
    released_at_cleanup: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["series"] = {name: asdict(t) for name, t in self.series.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Growth:
        series = {name: GrowthFit(**t) for name, t in (data.get("series") or {}).items()}
        return cls(**{**data, "series": series})


@dataclass(frozen=True)
class Change:
    """before - after of one series' growth per request, with its 95% interval."""

    series: str
    before: float
    after: float
    difference: float
    low: float
    high: float


@dataclass(frozen=True)
class Tried:
    """One allocator setting the scenario was rerun with, and what it did to the growth."""

    setting: str
    description: str
    env: dict[str, str]
    outcome: str  # gone, persists, reduced, not run
    reason: str
    growth: Growth | None
    changes: list[Change] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tried:
        growth = Growth.from_json(data["growth"]) if data.get("growth") else None
        changes = [Change(**c) for c in data.get("changes") or []]
        return cls(**{**data, "growth": growth, "changes": changes})


@dataclass(frozen=True)
class Skipped:
    setting: str
    reason: str


@dataclass
class Diagnosis:
    decision: str
    reason: str
    resident_series: str | None
    threshold_bytes_per_request: float
    before: Growth
    tried: list[Tried] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["before"] = self.before.to_json()
        data["tried"] = [
            {**asdict(t), "growth": t.growth.to_json() if t.growth else None} for t in self.tried
        ]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Diagnosis:
        return cls(
            **{
                **data,
                "before": Growth.from_json(data["before"]),
                "tried": [Tried.from_json(t) for t in data.get("tried") or []],
                "skipped": [Skipped(**s) for s in data.get("skipped") or []],
            }
        )


def _standard_error(found: GrowthFit) -> float:
    return max(found.high - found.low, 0.0) / (2 * Z95)


def change(series: str, before: GrowthFit, after: GrowthFit) -> Change:
    difference = before.slope - after.slope
    spread = Z95 * math.hypot(_standard_error(before), _standard_error(after))
    return Change(
        series, before.slope, after.slope, difference, difference - spread, difference + spread
    )


def _grows(found: GrowthFit | None, rules: Rules) -> bool:
    """Growth the verdict would call a leak's size: significant, sustained, over the threshold
    and the minimum growth over the window."""
    return (
        found is not None
        and found.significant
        and found.sustained
        and found.slope >= rules.leak_bytes_per_request
        and found.total_growth >= rules.min_leak_growth_mb * MIB
    )


def _rate(found: GrowthFit) -> str:
    return f"{found.slope:,.0f} B/request (95% CI {found.low:,.0f} .. {found.high:,.0f})"


def judge_setting(
    before: Growth,
    resident: str,
    rules: Rules,
    setting: str,
    description: str,
    env: dict[str, str],
    after: Growth | None,
) -> Tried:
    """What one setting did to the resident series' growth: gone when a leak of the
    threshold's size is ruled out under it (95%) and it grows significantly less than before;
    persists when it still grows by a leak's size."""
    threshold = rules.leak_bytes_per_request
    found = after.series.get(resident) if after is not None else None
    if after is None or found is None:
        why = "the rerun did not complete" if after is None else f"no {SERIES[resident]} series"
        return Tried(setting, description, env, NOT_RUN, why, after)
    changes = [
        change(name, before.series[name], after.series[name])
        for name in SERIES
        if name in before.series and name in after.series
    ]
    main = next(c for c in changes if c.series == resident)
    label = SERIES[resident]
    if after.status != "completed":
        return Tried(setting, description, env, NOT_RUN, f"the rerun {after.status}", after)
    if found.ruled_out_above < threshold and main.low > 0:
        outcome = GONE
        reason = (
            f"{label} grows {_rate(found)}: growth of {threshold:,.0f} B/request or more is "
            f"ruled out (95%), {main.difference:,.0f} B/request less than before "
            f"(95% CI {main.low:,.0f} .. {main.high:,.0f})"
        )
        if found.significant:
            reason += "; it still grows, under the threshold: a smaller leak may remain"
    elif _grows(found, rules):
        outcome = PERSISTS
        reason = f"{label} still grows {_rate(found)}"
    else:
        outcome = REDUCED
        reason = (
            f"{label} grows {_rate(found)}: neither ruled out below {threshold:,.0f} B/request "
            "nor a sustained leak of that size; run longer"
        )
    return Tried(setting, description, env, outcome, reason, after, changes)


def needs_diagnosis(before: Growth, rules: Rules) -> tuple[str | None, str, str]:
    """The resident series to diagnose; or None, the decision and why there is nothing to
    diagnose."""
    resident = next((name for name in RESIDENT if name in before.series), None)
    if resident is None:
        return None, INCONCLUSIVE, "no resident memory series (container anon+shm or RSS)"
    found = before.series[resident]
    if not _grows(found, rules):
        return (
            None,
            NOT_APPLICABLE,
            (
                f"{SERIES[resident]} grows {_rate(found)}, not a leak's size "
                f"({rules.leak_bytes_per_request:,.0f} B/request): nothing to diagnose"
            ),
        )
    heap = before.series.get("app_heap")
    if heap is not None and heap.slope >= HEAP_SHARE * found.slope:
        return (
            None,
            NOT_APPLICABLE,
            (
                f"the Python heap grows {_rate(heap)} of the {found.slope:,.0f} B/request: a "
                "Python-level leak (see the leak suspects), not the allocator's"
            ),
        )
    return resident, "", ""


def decide(before: Growth, tried: list[Tried], skipped: list[Skipped], rules: Rules) -> Diagnosis:
    """Allocator retention when some setting makes the growth go away; a native leak when it
    persists under every setting that ran; inconclusive otherwise."""
    threshold = rules.leak_bytes_per_request
    resident, decision, why = needs_diagnosis(before, rules)
    if resident is None:
        return Diagnosis(decision, why, None, threshold, before, tried, skipped)
    label = SERIES[resident]
    grown = f"{label} grows {_rate(before.series[resident])} under {before.allocator}"
    malloc = before.series.get("app_malloc")
    in_use = f"; malloc in use {_rate(malloc)}" if malloc is not None else ""
    ran = [t for t in tried if t.outcome != NOT_RUN]
    gone = [t for t in ran if t.outcome == GONE]
    if gone:
        names = " and ".join(t.setting for t in gone)
        return Diagnosis(
            RETENTION,
            f"allocator retention, not a leak: {grown}{in_use}; with {names} the growth goes "
            f"away ({gone[0].reason}). Memory the allocator keeps after it was freed",
            resident,
            threshold,
            before,
            tried,
            skipped,
        )
    if ran and all(t.outcome == PERSISTS for t in ran):
        names = " and ".join(t.setting for t in ran)
        return Diagnosis(
            NATIVE_LEAK,
            f"a true native leak: {grown}{in_use}; with {names} it persists "
            f"({ran[0].reason}). Memory allocated and never freed",
            resident,
            threshold,
            before,
            tried,
            skipped,
        )
    if not ran:
        why = "; ".join(
            [f"{t.setting}: {t.reason}" for t in tried]
            + [f"{s.setting}: {s.reason}" for s in skipped]
        )
        reason = f"{grown}, but no allocator setting could be tried ({why or 'none asked'})"
    else:
        reason = f"{grown}; " + "; ".join(f"{t.setting}: {t.reason}" for t in ran)
    return Diagnosis(INCONCLUSIVE, reason, resident, threshold, before, tried, skipped)


def _released_at_cleanup(samples: list[dict[str, str]], names: list[str]) -> dict[str, float]:
    load = [row for row in samples if row["phase"].startswith("load")]
    cleanup = [row for row in samples if row["phase"] == "cleanup"]
    released: dict[str, float] = {}
    for name in names:
        ends = [float(row[name]) for row in load[-3:] if row.get(name)]
        after = [float(row[name]) for row in cleanup if row.get(name)]
        if ends and after:
            released[name] = sum(ends) / len(ends) - min(after)
    return released


def measure(run_dir: Path, allocator: str, env: dict[str, str], relative_to: Path) -> Growth:
    """One run's growth of the diagnosis series, over the verdict's judged window."""
    meta = read_meta(run_dir)
    samples = load_samples(run_dir)
    rows, _ = measured_rows(samples)
    requests = [float(row["requests"] or "nan") for row in rows]
    series: dict[str, GrowthFit] = {}
    for name in SERIES:
        values = [float(row[name]) if row.get(name) else math.nan for row in rows]
        found = fit_growth(requests, values) if values else None
        if found is not None:
            series[name] = found
    counted = int(requests[-1] - requests[0]) if len(requests) > 1 else 0
    where = run_dir.resolve()
    with_base = relative_to.resolve()
    name = str(where.relative_to(with_base)) if where.is_relative_to(with_base) else str(where)
    return Growth(
        run=name if name != "." else meta.get("id", name),
        allocator=allocator,
        env=env,
        status=str((meta.get("outcome") or {}).get("status", "running")),
        requests=counted,
        series=series,
        released_at_cleanup=_released_at_cleanup(samples, list(series)),
    )


def write_diagnosis(run_dir: Path, diagnosis: Diagnosis) -> Path:
    path = run_dir / ALLOCATOR_JSON
    path.write_text(json.dumps(diagnosis.to_json(), indent=2) + "\n", encoding="utf-8")
    return path


def load_diagnosis(run_dir: Path, warn: Callable[[str], None] | None = None) -> Diagnosis | None:
    """allocator.json of a diagnosed run, or None (also, with a warning, when unreadable)."""
    path = run_dir / ALLOCATOR_JSON
    if not path.is_file():
        return None
    try:
        return Diagnosis.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        if warn is not None:
            warn(f"{ALLOCATOR_JSON} not read: {exc}")
        return None
