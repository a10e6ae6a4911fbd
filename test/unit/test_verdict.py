"""Verdicts and classes on synthetic run directories with known answers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from harness.analyze.verdict import INCONCLUSIVE, LEAK, NO_LEAK, Rules, judge
from harness.rundir import RunDirectory, Sample

MIB = 1 << 20


def make_run(
    tmp_path: Path,
    heap: float = 0.0,
    native: float = 0.0,
    shm: float = 0.0,
    fds_per_request: float = 0.0,
    samples: int = 150,
    requests_per_sample: int = 25,
    noise: float = 100_000.0,
    hidden_native: float = 0.0,
    rss_step_at: int | None = None,
    anon_drop_at: int | None = None,
    users: int = 8,
) -> Path:
    """A run whose load phase grows by the given bytes/request in each place."""
    rng = random.Random(3)
    run = RunDirectory.create(tmp_path, "synthetic", {})
    for i in range(samples + 10):
        phase = "warm-up" if i < 10 else "load-1"
        requests = i * requests_per_sample
        wobble = rng.gauss(0, noise)
        heap_bytes = 40 * MIB + heap * requests + wobble / 4
        rss = 90 * MIB + (heap + native) * requests + wobble
        if rss_step_at is not None and i >= rss_step_at:
            rss -= 1 * MIB  # the allocator gives a megabyte back once
        malloc = 30 * MIB + (heap + native + hidden_native) * requests + wobble / 4
        working_set = rss - 10 * MIB + shm * requests
        if anon_drop_at is not None and i >= anon_drop_at:
            working_set -= 2 * MIB  # the process gives anonymous memory back once
        run.sample(
            Sample(
                time=float(i),
                elapsed_s=float(i),
                phase=phase,
                requests=requests,
                failures=0,
                users=users,
                working_set=int(working_set),
                shmem=int(shm * requests) if shm else None,
                rss=int(rss),
                app_heap=int(heap_bytes),
                app_malloc=int(malloc),
                fds=int(20 + fds_per_request * requests + rng.choice((0, 1))),
                threads=4,
            )
        )
    run.close()
    return run.path


def test_clean_run_is_no_leak(tmp_path: Path) -> None:
    verdict = judge(make_run(tmp_path), Rules())
    assert verdict.verdict == NO_LEAK, verdict.reason
    assert verdict.detectable_bytes_per_request is not None
    # the LEAK rule's own 80%-power size, threshold included: within a quarter above it
    assert verdict.detectable_bytes_per_request < 1.25 * 256


@pytest.mark.parametrize(
    ("kwargs", "expected_class"),
    [
        ({"heap": 1024.0}, "python-heap"),
        ({"native": 1024.0}, "native"),
        ({"shm": 1024.0}, "container-only"),
        ({"fds_per_request": 0.01}, "resources:fds"),
    ],
)
def test_each_kind_of_leak_lands_in_its_class(
    tmp_path: Path, kwargs: dict[str, float], expected_class: str
) -> None:
    verdict = judge(make_run(tmp_path, **kwargs), Rules())
    assert verdict.verdict == LEAK, verdict.reason
    assert verdict.classes[0] == expected_class, verdict.classes


def test_a_pool_settling_under_its_users_is_not_a_resource_leak(tmp_path: Path) -> None:
    """A fresh-clone nightly `full` run, 16 users: open fds rose by 11 across the window (the
    service's keep-alive pools meeting the load) and the verdict was LEAK under a floor of 5
    set from the bundled service. What 16 concurrent users hold is bounded by 16; a leak of
    the same slope under fewer users, or one that outgrows them, is still caught."""
    settling = make_run(tmp_path / "pool", fds_per_request=11 / 3750, users=16)
    fds = next(s for s in judge(settling, Rules()).series if s.name == "fds")
    assert not fds.leaking and "within 16 (one per concurrent user" in fds.reason, fds.reason
    assert judge(settling, Rules()).verdict == NO_LEAK
    outgrowing = judge(make_run(tmp_path / "leak", fds_per_request=40 / 3750, users=16), Rules())
    assert outgrowing.verdict == LEAK and outgrowing.classes == ["resources:fds"]


def test_leak_estimate_and_projection(tmp_path: Path) -> None:
    verdict = judge(make_run(tmp_path, native=4096.0), Rules(production_rps=20))
    assert verdict.interval is not None
    low, high = verdict.interval
    assert low <= 4096 <= high
    assert verdict.growth_mb_per_hour == pytest.approx(4096 * 20 * 3600 / MIB, rel=0.1)
    assert verdict.hours_to_limit is not None and verdict.hours_to_limit > 0


def test_a_short_noisy_run_is_inconclusive_not_a_pass(tmp_path: Path) -> None:
    run = make_run(tmp_path, samples=20, requests_per_sample=5, noise=2_000_000.0)
    verdict = judge(run, Rules())
    assert verdict.verdict == INCONCLUSIVE, verdict.reason
    assert "cannot be ruled out" in verdict.reason


def test_growth_under_the_threshold_is_not_a_leak(tmp_path: Path) -> None:
    verdict = judge(make_run(tmp_path, heap=64.0, noise=1000.0), Rules(leak_bytes_per_request=256))
    assert verdict.verdict == NO_LEAK, verdict.reason
    # said as growth, with its size, not as "no growth"
    assert "growth under the threshold only (" in verdict.reason, verdict.reason
    assert "Python heap 64" in verdict.reason, verdict.reason


def test_native_leak_hidden_in_allocator_slack_is_caught_by_malloc_in_use(tmp_path: Path) -> None:
    """RSS stays flat while the leak fills memory the allocator already holds; glibc's
    in-use count still grows, and the Python heap does not: native."""
    verdict = judge(make_run(tmp_path, hidden_native=1024.0), Rules())
    assert verdict.verdict == LEAK, verdict.reason
    assert verdict.deciding_series == "app_malloc"
    assert "native" in verdict.classes and "python-heap" not in verdict.classes


def test_a_flat_series_with_one_drop_rules_a_leak_out(tmp_path: Path) -> None:
    verdict = judge(make_run(tmp_path, noise=0.0, rss_step_at=80), Rules())
    assert verdict.verdict == NO_LEAK, verdict.reason
    assert "ruled out" in verdict.reason


def test_steep_growth_of_less_than_a_megabyte_is_not_called_a_leak(tmp_path: Path) -> None:
    """A few hundred requests turn allocator settling into a steep slope: 2 KiB/request over
    400 requests is 0.8 MiB, under the 1 MiB a leak must grow; the same slope over 3,750
    requests is a leak."""
    short = judge(
        make_run(
            tmp_path / "short", native=2048.0, samples=40, requests_per_sample=10, noise=10_000.0
        ),
        Rules(),
    )
    assert short.verdict == INCONCLUSIVE, short.reason
    assert any("allocator settling" in s.reason for s in short.series)
    long = judge(make_run(tmp_path / "long", native=2048.0, noise=10_000.0), Rules())
    assert long.verdict == LEAK, long.reason


def test_shm_spill_behind_an_anonymous_memory_drop(tmp_path: Path) -> None:
    """The container's total hides a steady tmpfs spill behind one release of anonymous
    memory (seen in a real short run); the shm series on its own shows it."""
    run = make_run(tmp_path, shm=4096.0, samples=60, requests_per_sample=15, anon_drop_at=35)
    verdict = judge(run, Rules(leak_bytes_per_request=1024))
    assert verdict.verdict == LEAK, verdict.reason
    assert verdict.deciding_series == "shmem"
    assert verdict.classes == ["container-only"], verdict.classes


def test_the_tightest_evidence_decides_and_gives_the_estimate(tmp_path: Path) -> None:
    """A heap leak grows the container's memory too, but through the allocator's noise; the
    headline estimate comes from the series whose interval lies furthest above zero (the
    heap here), not from the first series in the list."""
    verdict = judge(make_run(tmp_path, heap=4096.0, noise=2_000_000.0), Rules())
    assert verdict.verdict == LEAK, verdict.reason
    container = next(s for s in verdict.series if s.name == "working_set")
    assert container.leaking and container.trend is not None
    assert verdict.deciding_series == "app_heap"
    assert verdict.interval is not None and verdict.interval[0] > container.trend["low"]
    assert verdict.interval[0] <= 4096.0 <= verdict.interval[1]


def make_held_run(tmp_path: Path, kept: float = 0.0, cleanup: bool = True) -> Path:
    """A quick run with files in the mix: the floor creeps by 200 B/request (bounded state
    filling), and late in the window downloads hold their 1 MiB chunks, 2 MiB by 90% of it
    and to its end (seen in clean runs, where the trend read it as growth). `kept`
    bytes/request are a real leak on top. With `cleanup`, the run ends as the harness ends it:
    GC, two samples, clear-cache."""
    rng = random.Random(11)
    run = RunDirectory.create(tmp_path, "synthetic", {})
    samples = 160
    events = []

    def sample(i: int, phase: str, requests: int, held: float) -> None:
        wobble = rng.gauss(0, 30_000)
        run.sample(
            Sample(
                time=float(i) / 2,
                elapsed_s=float(i) / 2,
                phase=phase,
                requests=requests,
                failures=0,
                users=8,
                working_set=int(120 * MIB + wobble),
                rss=int(130 * MIB + wobble),
                app_heap=int(8 * MIB + 0.5 * held + wobble / 2),
                app_malloc=int(36 * MIB + held + wobble),
                threads=4,
            )
        )

    for i in range(samples):
        requests = i * 17
        late = (i - 10) / (samples - 10)  # how far into the window
        in_flight = 2 * MIB * min(1.0, max(0.0, (late - 0.6) / 0.3))
        retained = (200.0 + kept) * max(0, requests - 170)
        sample(i, "warm-up" if i < 10 else "load-1", requests, retained + in_flight)
    end = samples * 17
    retained = (200.0 + kept) * (end - 170)
    if cleanup:
        events.append(
            {"time": samples / 2 + 1.2, "event": "cleanup", "action": "gc", "status": 200}
        )
        for i in range(samples + 3, samples + 5):
            sample(i, "cleanup", end, retained)  # the download is gone with the load
        events.append(
            {
                "time": samples / 2 + 3,
                "sent_at": samples / 2 + 2.6,
                "event": "cleanup",
                "action": "clear-cache",
                "status": 200,
            }
        )
        sample(samples + 6, "cleanup", end, 0.0)  # clear-cache empties what a cache kept
    run.close()
    with (run.path / "events.jsonl").open("a") as handle:
        handle.writelines(json.dumps(event) + "\n" for event in events)
    return run.path


def test_growth_given_back_when_the_load_stops_is_not_a_leak(tmp_path: Path) -> None:
    """Without the reading after the collection the held chunk is a LEAK (the test can fail);
    with it, malloc in use kept ~200 B/request, under the threshold: not a leak, and not a
    NO LEAK either (its interval still reaches the threshold)."""
    rules = Rules(leak_bytes_per_request=512)
    trend_only = judge(make_held_run(tmp_path / "trend-only", cleanup=False), rules)
    # the trend alone cannot rule it out (before issue 23's family-wise test it read LEAK)
    assert trend_only.verdict != NO_LEAK and trend_only.deciding_series == "app_malloc"
    verdict = judge(make_held_run(tmp_path / "with-cleanup"), rules)
    assert verdict.verdict == INCONCLUSIVE, verdict.reason
    malloc = next(s for s in verdict.series if s.name == "app_malloc")
    assert not malloc.leaking
    # since issue 23 the family-wise trend test stops this fixture before the reading after
    # the collection is asked (z 2.8 under 2.9); where the trend does read it as growth,
    # that reading decides (test_a_leak_keeps_what_it_took_...)
    if malloc.kept_bytes_per_request is not None:
        assert "kept" in verdict.reason and "once the load stopped" in verdict.reason
        assert malloc.reason.startswith("grew under load, but did not keep")
        assert malloc.kept_bytes_per_request == pytest.approx(200, abs=60)


def test_a_leak_keeps_what_it_took_and_a_cache_clear_does_not_hide_it(tmp_path: Path) -> None:
    """A leak of 2 KiB/request under the same held chunk is still there after the GC; the
    clear-cache after it (which would empty an unbounded cache) is not what is read. (1 KiB
    was used before issue 23: under a 2 MiB in-flight swing its z of 2.8 misses the
    family-wise 2.9.)"""
    verdict = judge(make_held_run(tmp_path, kept=2048.0), Rules(leak_bytes_per_request=512))
    assert verdict.verdict == LEAK, verdict.reason
    malloc = next(s for s in verdict.series if s.name == "app_malloc")
    assert malloc.leaking and malloc.kept_bytes_per_request is not None
    assert malloc.kept_bytes_per_request == pytest.approx(2248, rel=0.1)
