"""The pre-production checklist of the memory management guide, item by item, each PASS,
FAIL or SKIP with its evidence (the measured figure and the threshold), from the run
directory alone. Thresholds use the service's own names (MEMORY_WARNING_THRESHOLD,
MEMORY_CRITICAL_THRESHOLD, CONTAINER_MEMORY_LIMIT_MB) and can be overridden by them."""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.analyze.ceiling import oom_killed
from harness.analyze.kept import AGENT, answered
from harness.analyze.verdict import INCONCLUSIVE, LEAK, SeriesGrowth, Verdict, load_samples
from harness.rundir import profiled_run, read_events, read_meta
from harness.units import GIB, MIB

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
GIB_MB = GIB / MIB  # the limits are in MB; the peak item names GB


@dataclass(frozen=True)
class Item:
    name: str
    status: str
    evidence: str


@dataclass(frozen=True)
class Limits:
    startup_mb: float = 500.0
    peak_mb: float = 1500.0
    warning_mb: float = 1500.0
    critical_mb: float = 1800.0
    container_limit_mb: float = 2048.0
    cleanup_tolerance_mb: float = 16.0  # or 5% of the baseline, whichever is larger


def limits_for(meta: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Limits:
    environ = os.environ if environ is None else environ
    thresholds = (meta.get("scenario") or {}).get("thresholds") or {}
    values = {k: float(thresholds[k]) for k in Limits.__dataclass_fields__ if k in thresholds}
    for name, key in (
        ("MEMORY_WARNING_THRESHOLD", "warning_mb"),
        ("MEMORY_CRITICAL_THRESHOLD", "critical_mb"),
        ("CONTAINER_MEMORY_LIMIT_MB", "container_limit_mb"),
    ):
        if environ.get(name):
            values[key] = float(environ[name])
    return Limits(**values)


def _mb(value: float | None) -> str:
    return "?" if value is None else f"{value / MIB:,.1f} MB"


def _memory(row: Mapping[str, str]) -> float | None:
    """The container's unreclaimable memory when sandboxed, else the process's RSS."""
    for key in ("container_anon", "rss"):
        if row.get(key):
            return float(row[key])
    return None


def check_no_leak(verdict: Verdict) -> Item:
    name = "all memory leak tests pass"
    if verdict.verdict == LEAK:
        return Item(name, FAIL, f"LEAK: {verdict.reason}")
    if verdict.verdict == INCONCLUSIVE:
        return Item(name, SKIP, f"INCONCLUSIVE: {verdict.reason}")
    return Item(name, PASS, verdict.reason)


def check_startup(meta: Mapping[str, Any], limits: Limits) -> Item:
    name = f"startup memory < {limits.startup_mb:.0f} MB"
    startup = meta.get("startup") or {}
    value = startup.get("working_set") or startup.get("rss")
    if value is None:
        return Item(name, SKIP, "no startup reading (the target never became healthy)")
    basis = "working set" if startup.get("working_set") else "RSS"
    status = PASS if value / MIB < limits.startup_mb else FAIL
    return Item(name, status, f"{basis} after health: {_mb(value)}")


def check_peak(
    rows: list[dict[str, str]],
    meta: Mapping[str, Any],
    limits: Limits,
    events: list[dict[str, Any]] | None = None,
) -> Item:
    """FAIL at or above the peak limit, and on any OOM kill whatever the peak sampled: the
    kill is what the limit is there to prevent, and the samples may have missed the peak."""
    name = f"peak memory < {limits.peak_mb / GIB_MB:.1f} GB"
    killed = oom_killed(rows, meta, events or [])
    peaks = [float(r["cgroup_peak"]) for r in rows if r.get("cgroup_peak")]
    basis = "cgroup peak"
    if not peaks:
        peaks = [float(r["rss"]) for r in rows if r.get("rss")]
        basis = "highest sampled RSS (no cgroup)"
    if not peaks:
        return Item(name, FAIL, killed) if killed else Item(name, SKIP, "no memory samples")
    peak = max(peaks)
    status = FAIL if killed or peak / MIB >= limits.peak_mb else PASS
    extra = f"; {killed}" if killed else ""
    return Item(name, status, f"{basis}: {_mb(peak)}{extra}")


def reclaimed(rows: list[dict[str, str]], events: list[dict[str, Any]]) -> str:
    """What the cleanup phase gave back: the drop from the end of load to after cleanup, and
    what the app's GC and clear-cache endpoints said they did (their answers, as recorded)."""
    loaded = [m for m in map(_memory, [r for r in rows if r["phase"].startswith("load")][-4:])]
    cleaned = [m for m in map(_memory, [r for r in rows if r["phase"] == "cleanup"][-4:])]
    parts = []
    under_load = [m for m in loaded if m is not None]
    after = [m for m in cleaned if m is not None]
    if under_load and after:
        parts.append(f"{_mb(statistics.median(under_load) - statistics.median(after))} reclaimed")
    final = [e for e in events if e["event"] == "cleanup" and answered(e)]
    for action in ("gc", "clear-cache"):
        answers = [e for e in final if e.get("action") == action]
        data = ((answers[-1].get("answer") or {}).get("data") or {}) if answers else {}
        if action == "clear-cache":
            data = data.get("cleared", data)
        numbers = {
            k: v
            for k, v in data.items()
            if isinstance(v, int | float) and v and not k.startswith(("before", "after"))
        }
        if numbers:
            described = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in numbers.items())
            parts.append(f"{action}: {described}")
    return "; ".join(parts)


def _extra_users(rows: list[dict[str, str]], warm: list[dict[str, str]]) -> int:
    """Concurrent users at the load's peak beyond the warm-up's. A keep-alive pool (the
    service's client to its upstream) may keep one idle connection per concurrent request
    after load stops, bounded by the pool; a stress or spike run that went past the warm-up's
    concurrency is allowed that many sockets, a leak grows past it."""

    def users(selected: list[dict[str, str]]) -> int:
        return max((int(float(r["users"])) for r in selected if r.get("users")), default=0)

    return max(users([r for r in rows if r["phase"].startswith("load")]) - users(warm), 0)


#: the resources a pool holds: one that grew to its bound under load keeps its size after it
POOLED = ("fds", "sockets", "threads")


def _pool_or_leak(
    key: str, after: float, rows: list[dict[str, str]], fit: SeriesGrowth | None
) -> tuple[bool, str] | None:
    """Whether a resource above its baseline after cleanup is a pool that grew to its bound
    under load (True) or a leak (False), and why; None when the run cannot tell (no trend
    fitted). A pool grows to its size under load and keeps it; a leak keeps growing with
    requests (the verdict's trend fit, or its limit reached), or grows on after the load."""
    loaded = [float(r[key]) for r in rows if r["phase"].startswith("load") and r.get(key)]
    if fit is None or fit.trend is None or not loaded:
        return None
    if after > max(loaded):
        return False, f"kept growing after the load (max {max(loaded):.0f} under load)"
    if fit.leaking:
        return False, f"leaking under load ({fit.reason})"
    return (
        True,
        f"a pool that reached its size under load (max {max(loaded):.0f} under load, {fit.reason})",
    )


def check_cleanup(
    rows: list[dict[str, str]],
    limits: Limits,
    events: list[dict[str, Any]] | None = None,
    series: Mapping[str, SeriesGrowth] | None = None,
) -> Item:
    """After load stops and the app cleans up, memory and resources return near the
    post-warm-up baseline. A pooled resource (`POOLED`) above it passes when the verdict's
    `series` show a pool that reached its bound, not a leak (`_pool_or_leak`); without them
    it is held to a fixed allowance."""
    name = "resource cleanup works"
    warm = [r for r in rows if r["phase"] == "warm-up"][-4:]
    after = [r for r in rows if r["phase"] == "cleanup"][-4:]
    if not warm or not after:
        return Item(name, SKIP, "the run has no warm-up or no cleanup phase")
    base = [m for m in map(_memory, warm) if m is not None]
    end = [m for m in map(_memory, after) if m is not None]
    if not base or not end:
        return Item(name, SKIP, "no memory series")
    baseline, final = statistics.median(base), statistics.median(end)
    tolerance = max(limits.cleanup_tolerance_mb * MIB, 0.05 * baseline)
    problems = []
    if final - baseline > tolerance:
        problems.append(f"memory {_mb(final - baseline)} above the baseline")
    pooled = _extra_users(rows, warm)
    bounded: list[str] = []
    for key, allowed in (("fds", 3), ("sockets", 3), ("threads", 2), ("app_tasks", 5)):
        before = [float(r[key]) for r in warm if r.get(key)]
        later = [float(r[key]) for r in after if r.get(key)]
        if key in ("fds", "sockets"):
            allowed += pooled
        if not (before and later and min(later) - max(before) > allowed):
            continue
        change = f"{key} {max(before):.0f} -> {min(later):.0f}"
        told = _pool_or_leak(key, min(later), rows, (series or {}).get(key))
        if key in POOLED and told is not None:
            (bounded if told[0] else problems).append(f"{change}: {told[1]}")
        else:
            problems.append(change)
    evidence = (
        f"post-warm-up {_mb(baseline)}, after cleanup {_mb(final)} (tolerance {_mb(tolerance)})"
    )
    given_back = reclaimed(rows, events or [])
    if given_back:
        evidence += f"; {given_back}"
    if problems:
        return Item(name, FAIL, f"{evidence}: {'; '.join(problems + bounded)}")
    return Item(name, PASS, "; ".join([evidence, *bounded]))


#: the outcomes of a run that ended with the target's death
TARGET_DIED = ("oom-killed", "target-exited")


def _stats_answered(row: Mapping[str, str]) -> bool:
    return bool(row.get("app_tasks") or row.get("app_heap"))


def check_monitoring(
    rows: list[dict[str, str]], events: list[dict[str, Any]], meta: Mapping[str, Any]
) -> Item:
    name = "monitoring endpoints work"
    checks = [e for e in events if e["event"] == "monitoring-check"]
    if not (meta.get("target") or {}).get("memory_endpoints"):
        return Item(name, SKIP, "the target declares no memory endpoints")
    if not checks:
        return Item(name, SKIP, "this run recorded no endpoint check (the target never got ready?)")
    bad = [f"{e.get('endpoint')} ({e.get('problem')})" for e in checks if not e.get("valid")]
    loaded = [r for r in rows if r["phase"] != "startup"]
    if (meta.get("outcome") or {}).get("status") in TARGET_DIED:
        # a dying target answers no stats: its last unanswered samples are its death's
        while loaded and not _stats_answered(loaded[-1]):
            loaded.pop()
    answered = sum(1 for r in loaded if _stats_answered(r))
    share = answered / len(loaded) if loaded else 0.0
    evidence = (
        f"{len(checks) - len(bad)}/{len(checks)} endpoints valid; stats answered in "
        f"{100 * share:.0f}% of samples"
    )
    if bad or share < 0.9:
        return Item(name, FAIL, evidence + (f"; invalid: {', '.join(bad)}" if bad else ""))
    return Item(name, PASS, evidence)


def check_gc(rows: list[dict[str, str]], events: list[dict[str, Any]]) -> Item:
    name = "garbage collection is effective"
    calls = [e for e in events if e["event"] == "cleanup" and e.get("action") == "gc"]
    if not calls:
        return Item(name, SKIP, "the target has no GC endpoint and is not a Python process")
    failed = [c for c in calls if not answered(c)]
    if failed and failed[0].get("via") == AGENT:  # the harness could not ask: not the service's
        return Item(name, SKIP, "the heap agent did not answer a GC request (not injected?)")
    if failed:
        return Item(name, FAIL, f"GC endpoint answered {failed[0].get('status')}")
    data = (calls[-1].get("answer") or {}).get("data") or {}
    if calls[-1].get("via") == AGENT:
        did = f"the heap agent's gc.collect() collected {data.get('objects_collected')} objects"
    else:
        did = f"GC endpoint freed {data.get('freed_mb')} MB"
    loaded = [m for m in map(_memory, [r for r in rows if r["phase"].startswith("load")][-4:])]
    cleaned = [m for m in map(_memory, [r for r in rows if r["phase"] == "cleanup"][-4:])]
    under_load = [m for m in loaded if m is not None]
    after = [m for m in cleaned if m is not None]
    if not after or not under_load:
        return Item(name, SKIP, f"{did}, but no samples to compare")
    drop = statistics.median(under_load) - statistics.median(after)
    evidence = f"{did}; after cleanup memory is {_mb(drop)} below load"
    return Item(name, PASS if drop >= -2 * MIB else FAIL, evidence)


def check_alert_rules(meta: Mapping[str, Any], limits: Limits) -> Item:
    name = "alert rules configured"
    path_text = (meta.get("target") or {}).get("alert_rules")
    if not path_text:
        return Item(name, SKIP, "the target declares no alert rule file (target.alert_rules)")
    path = Path(path_text)
    if not path.is_file():
        return Item(name, FAIL, f"{path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        return Item(name, FAIL, f"{path} is not valid YAML: {exc}")
    rules = data.get("alerts", []) if isinstance(data, dict) else []
    memory = [
        float(rule["threshold_bytes"]) / MIB
        for rule in rules
        if isinstance(rule, dict)
        and rule.get("metric") == "WorkingSetBytes"
        and "threshold_bytes" in rule
    ]
    missing = [
        f"{label} {mb:.0f} MB"
        for label, mb in (("warning", limits.warning_mb), ("critical", limits.critical_mb))
        if not any(abs(t - mb) <= 0.02 * mb for t in memory)
    ]
    found = ", ".join(f"{t:.0f} MB" for t in sorted(memory)) or "none"
    if missing:
        wanted = ", ".join(missing)
        return Item(name, FAIL, f"{path.name}: WorkingSetBytes rules at {found}; none for {wanted}")
    return Item(name, PASS, f"{path.name}: WorkingSetBytes rules at {found}")


#: under a profiler, every process and container figure holds the profiler's own memory
PROFILED = (
    "profiled with memray: its own memory is in every process and container figure "
    "(check this on a run without --profile)"
)


def run_checklist(run_dir: Path, verdict: Verdict) -> list[Item]:
    meta = read_meta(run_dir)
    rows = load_samples(run_dir)
    events = read_events(run_dir)
    limits = limits_for(meta)
    items = [
        check_no_leak(verdict),
        check_startup(meta, limits),
        check_peak(rows, meta, limits, events),
        check_cleanup(rows, limits, events, {s.name: s for s in verdict.series}),
        check_monitoring(rows, events, meta),
        check_gc(rows, events),
        check_alert_rules(meta, limits),
    ]
    if profiled_run(meta):
        figures = {"startup memory", "peak memory", "resource cleanup", "garbage collection"}
        items = [
            Item(i.name, SKIP, f"{PROFILED}; measured: {i.evidence}")
            if any(i.name.startswith(f) for f in figures)
            else i
            for i in items
        ]
    return items
