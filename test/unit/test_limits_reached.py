"""A limit reached is never a plateau, and a window whose requests stopped is not judged per
request (issue 23): fds that climb to the target's RLIMIT_NOFILE and stop there, memory that
climbs to the cgroup's limit or is OOM-killed there under load, are LEAK with that evidence;
a stalled window is INCONCLUSIVE, never NO LEAK. A kill at boot, in a burst of concurrency or
without growth under load is no leak verdict. Each case was judged otherwise before."""

from __future__ import annotations

import os
import random
import resource
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.analyze.analysis import analyze
from harness.analyze.checklist import FAIL
from harness.analyze.verdict import INCONCLUSIVE, LEAK, NO_LEAK, Rules, judge
from harness.analyze.window import stalled
from harness.rundir import RunDirectory, Sample
from harness.sample.probes import parse_limits, read_limits

MIB = 1 << 20
LIMIT = 2 << 30
STALL = "requests stopped rising over the window: the target stalled"


def _run(
    tmp_path: Path,
    phases: list[str],
    *,
    requests: Callable[[int], int],
    anon: Callable[[int, int], float] = lambda i, r: 300 * MIB,
    fds: Callable[[int, int], int] = lambda i, r: 30,
    users: Callable[[int, str], int] = lambda i, phase: 0 if phase == "startup" else 8,
    outcome: str = "completed",
    detail: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """One sample per entry of `phases`; `requests(i)` cumulative, the series from (i, requests)."""
    rng = random.Random(11)
    run = RunDirectory.create(
        tmp_path,
        "limits",
        {"target_backend": {"backend": "cgroup", "memory_limit_bytes": LIMIT}, **(meta or {})},
    )
    for i, phase in enumerate(phases):
        served = requests(i)
        level = anon(i, served) + rng.gauss(0, 50_000)
        run.sample(
            Sample(
                time=1000.0 + i,
                elapsed_s=float(i),
                phase=phase,
                requests=served,
                failures=0,
                users=users(i, phase),
                working_set=int(level + 4 * MIB),
                container_anon=int(level),
                cgroup_peak=int(level + MIB),
                cgroup_limit=LIMIT,
                rss=int(level + 10 * MIB),
                fds=fds(i, served),
                sockets=max(fds(i, served) - 10, 0),
                threads=6,
                processes=1,
            )
        )
    if outcome == "oom-killed":
        run.event("oom-killed", **(detail or {"returncode": -9}))
    run.finish(outcome, 0 if outcome == "completed" else 1, **(detail or {}))
    return run.path


PHASES = ["startup"] * 3 + ["warm-up"] * 10 + ["load-1"] * 100 + ["cleanup"] * 5


def _fd_leak(tmp_path: Path, limits: dict[str, int] | None) -> Path:
    """One socket kept per connection: fds climb to 20,000 by sample 60, the target then
    refuses connections and its requests stop rising (the reproduced service)."""

    def served(i: int) -> int:
        return min(i, 60) * 340

    return _run(
        tmp_path,
        PHASES,
        requests=served,
        fds=lambda i, r: min(10 + r, 19_998),
        meta={"target_limits": limits} if limits else None,
    )


def test_fds_at_their_limit_are_a_leak_not_a_plateau(tmp_path: Path) -> None:
    """Before: NO LEAK, open fds "no sustained trend"."""
    verdict = judge(_fd_leak(tmp_path, {"nofile": 20_000, "nproc": 96_362}), Rules())
    assert verdict.verdict == LEAK, verdict.reason
    assert verdict.deciding_series == "fds"
    assert verdict.reason.startswith("open fds: reached 19,998 under load, 100% of the target's")
    assert "(RLIMIT_NOFILE 20,000), from 10: a limit reached is not a plateau" in verdict.reason
    assert verdict.classes == ["resources:fds", "resources:sockets"]  # sockets are fds
    fds, sockets = (next(s for s in verdict.series if s.name == n) for n in ("fds", "sockets"))
    assert fds.leaking and fds.reason == verdict.reason
    assert sockets.leaking and sockets.reason.startswith("sockets: reached 19,988 under load")


def test_resources_at_their_limit_are_no_pool_to_the_cleanup_item(tmp_path: Path) -> None:
    analysis = analyze(_fd_leak(tmp_path, {"nofile": 20_000, "nproc": 96_362}), Rules())
    item = next(i for i in analysis.checklist if i.name == "resource cleanup works")
    assert item.status == FAIL
    assert "fds 4090 -> 19998: leaking under load (open fds: reached 19,998" in item.evidence
    assert "sockets 4080 -> 19988: leaking under load (sockets: reached 19,988" in item.evidence


def test_a_window_stalled_at_an_unknown_limit_is_not_no_leak(tmp_path: Path) -> None:
    """The same run without the target's limits (an older run.json): the stall still stops
    NO LEAK."""
    verdict = judge(_fd_leak(tmp_path, None), Rules())
    assert verdict.verdict == INCONCLUSIVE
    assert verdict.reason.startswith(f"{STALL} (0 requests in ")


def test_a_clean_pool_under_a_limit_is_no_leak(tmp_path: Path) -> None:
    run_dir = _run(
        tmp_path,
        PHASES,
        requests=lambda i: i * 300,
        fds=lambda i, r: 30 if i < 20 else 45,  # a pool that opened once
        meta={"target_limits": {"nofile": 48, "nproc": 100}},  # near it, but it never climbed
    )
    verdict = judge(run_dir, Rules())
    assert verdict.verdict == NO_LEAK, verdict.reason


def _oom_run(
    tmp_path: Path, phases: list[str], anon: Callable[[int, int], float], **kw: Any
) -> Path:
    phase = phases[-1]
    return _run(
        tmp_path,
        phases,
        requests=lambda i: max(i - 2, 0) * 75,
        anon=anon,
        outcome="oom-killed",
        detail={"returncode": -9, "phase": phase},
        **kw,
    )


def test_an_oom_kill_under_load_after_growth_is_a_leak(tmp_path: Path) -> None:
    """Each request keeps ~0.8 MiB: the quick run is OOM-killed in its 2 GiB limit three
    samples into its load. Before: INCONCLUSIVE, "the run ended at load-1, before enough load"."""
    phases = ["startup"] * 3 + ["warm-up"] * 30 + ["load-1"] * 3
    run_dir = _oom_run(tmp_path, phases, lambda i, r: 70 * MIB + 0.8 * MIB * r)
    analysis = analyze(run_dir, Rules())
    verdict = analysis.verdict
    assert verdict.verdict == LEAK, verdict.reason
    assert verdict.deciding_series == "container_anon"
    assert verdict.reason.startswith(
        "container anon+shm: OOM-killed at the 2,048 MiB limit after growing "
    )
    assert "MiB over 225 requests under load (" in verdict.reason
    assert verdict.bytes_per_request is not None
    assert 0.7 * MIB < verdict.bytes_per_request < 0.9 * MIB
    assert verdict.hours_to_limit == 0.0
    peak = next(i for i in analysis.checklist if i.name.startswith("peak"))
    assert peak.status == FAIL


def test_an_oom_kill_at_boot_is_no_leak_verdict(tmp_path: Path) -> None:
    run_dir = _oom_run(tmp_path, ["startup"] * 4, lambda i, r: 1900 * MIB + i * 40 * MIB)
    assert judge(run_dir, Rules()).verdict == INCONCLUSIVE


def test_an_oom_kill_without_growth_under_load_is_no_leak_verdict(tmp_path: Path) -> None:
    """A cache that filled in the warm-up, flat under load, then one large request."""
    phases = ["startup"] * 3 + ["warm-up"] * 30 + ["load-1"] * 4
    run_dir = _oom_run(tmp_path, phases, lambda i, r: 70 * MIB + 0.8 * MIB * min(r, 2000))
    verdict = judge(run_dir, Rules())
    assert verdict.verdict == INCONCLUSIVE, verdict.reason
    assert verdict.reason.startswith("the run ended at load-1, before enough load")


def test_an_oom_kill_in_a_burst_of_concurrency_is_no_leak_verdict(tmp_path: Path) -> None:
    """8 users flat at 300 MiB, then a spike adds users every sample (each holds ~30 MiB
    in flight) until the kill: memory rose with requests, but with concurrency only."""
    phases = ["startup"] * 3 + ["warm-up"] * 10 + ["load-1"] * 40 + ["load-2"] * 14
    spike_users = [8 + 8 * min(k, 7) for k in range(14)]  # 8 more a second, then 64 held

    def users(i: int, phase: str) -> int:
        return spike_users[i - 53] if phase == "load-2" else 0 if phase == "startup" else 8

    def anon(i: int, r: int) -> float:
        return 300 * MIB + (30 * MIB * (users(i, phases[i]) - 8) if i >= 53 else 0)

    run_dir = _oom_run(tmp_path, phases, anon, users=users)
    verdict = judge(run_dir, Rules())
    assert verdict.verdict != LEAK, verdict.reason


def test_memory_at_the_limit_without_a_kill_is_a_leak(tmp_path: Path) -> None:
    """The kernel reclaims and the target thrashes at 97% of its limit instead of dying."""
    run_dir = _run(
        tmp_path,
        PHASES,
        requests=lambda i: max(i - 2, 0) * 60,
        anon=lambda i, r: min(100 * MIB + 0.5 * MIB * r, 0.97 * LIMIT),
    )
    verdict = judge(run_dir, Rules())
    assert verdict.verdict == LEAK, verdict.reason
    assert "container anon+shm: reached 97% of the 2,048 MiB limit after growing" in verdict.reason


def test_memory_climbing_while_requests_stop_is_inconclusive(tmp_path: Path) -> None:
    """A hung target: requests stop for the last 40% of the window, memory climbs 20 MiB."""
    run_dir = _run(
        tmp_path,
        PHASES,
        requests=lambda i: min(i, 73) * 40,
        anon=lambda i, r: 300 * MIB + max(i - 73, 0) * 0.5 * MIB,
    )
    verdict = judge(run_dir, Rules())
    assert verdict.verdict == INCONCLUSIVE
    assert verdict.reason.startswith(f"{STALL} (0 requests in 39 s of the 99 s judged window")
    assert "while container anon+shm changed by +19." in verdict.reason


def test_a_slow_but_steady_window_is_not_stalled() -> None:
    """One request every other sample is a low rate, not a stall; a hang is."""
    slow = [{"phase": "load-1", "time": str(t), "requests": str(t // 2)} for t in range(100)]
    assert stalled(slow) is None
    hung = [
        {"phase": "load-1", "time": str(t), "requests": str(min(t, 70) * 5)} for t in range(100)
    ]
    assert (stalled(hung) or "").startswith(f"{STALL} (0 requests in 29 s of the 99 s")


LIMITS_TEXT = """\
Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max processes             unlimited            unlimited            processes
Max open files            20000                1048576              files
"""


def test_the_target_limits_are_read_from_proc() -> None:
    assert parse_limits(LIMITS_TEXT) == {"nofile": 20_000, "nproc": None}
    assert parse_limits("") == {"nofile": None, "nproc": None}
    own = read_limits([os.getpid()])
    soft_files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert own["nofile"] == (None if soft_files == resource.RLIM_INFINITY else soft_files)
    assert read_limits([]) == {} and read_limits([2**22 + 7]) == {}


def test_the_gaps_between_a_windows_phases_are_no_stall() -> None:
    """A cycles run's loads with long idles between them (excluded from the window), or a
    spike between two steady levels: the time between the phases is not the window's."""

    def phase_rows(phase: str, start: int, first: int) -> list[dict[str, str]]:
        return [
            {"phase": phase, "time": str(start + t), "requests": str(first + 10 * t)}
            for t in range(30)
        ]

    cycles = [*phase_rows("load-1", 0, 0), *phase_rows("load-2", 150, 300)]
    assert stalled(cycles) is None
    assert stalled([*cycles, *({**r, "requests": "590"} for r in phase_rows("load-2", 180, 0))])
