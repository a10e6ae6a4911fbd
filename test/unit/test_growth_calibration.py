"""The growth statistics hold their stated error rates (issue 23; the full measurement is
benchmarks/calibration.py): each test is a seeded slice of that benchmark, and each failed on
the statistics before it (Mann-Kendall with a bias-uncorrected AR(1) n_eff, the smaller of two
bounds, a detectable figure of 2.8 standard errors)."""

from __future__ import annotations

import math
import random
from pathlib import Path

from harness.analyze import growth
from harness.analyze.growth import GrowthFit, fit_growth
from harness.analyze.verdict import NO_LEAK, Rules, _judge_memory, _no_leak_or_inconclusive
from harness.units import MIB

DATA = Path(__file__).resolve().parents[1] / "data"
THRESHOLD = 512.0
RULES = Rules(leak_bytes_per_request=THRESHOLD, min_leak_growth_mb=1.0)


def series(
    rho: float, slope: float, seed: int, n: int = 180, sd: float = MIB
) -> tuple[list[float], list[float]]:
    """30 +- 5 requests a sample, stationary AR(1) noise of `sd`, a leak of `slope` B/request."""
    rng = random.Random(seed)
    requests, values, total, noise = [], [], 0.0, rng.gauss(0, sd)
    for _ in range(n):
        requests.append(total)
        values.append(80 * MIB + slope * total + noise)
        total += max(0, round(rng.gauss(30, 5)))
        noise = rho * noise + rng.gauss(0, sd * math.sqrt(1 - rho * rho))
    return requests, values


def fits(rho: float, slope: float, reps: int, n: int = 180) -> list[GrowthFit]:
    found = [fit_growth(*series(rho, slope, seed, n)) for seed in range(reps)]
    assert all(f is not None for f in found)
    return [f for f in found if f is not None]


def leak(found: GrowthFit) -> bool:
    return _judge_memory("container_anon", found, RULES)[0]


def test_a_stalled_window_with_climbing_memory_is_not_no_leak() -> None:
    """Requests stop halfway while memory climbs 30 MiB: nothing was served, nothing is ruled
    out (the second half had no slope pairs, which read as a [0, 0] interval)."""
    requests, values = series(0.5, 0.0, seed=3)
    half = len(requests) // 2
    stalled = [min(x, requests[half]) for x in requests]
    climbing = [v + 30 * MIB * max(0, i - half) / half for i, v in enumerate(values)]
    found = fit_growth(stalled, climbing)
    assert found is not None and not leak(found)
    assert found.ruled_out_above > THRESHOLD
    verdict, _, _ = _no_leak_or_inconclusive({"container_anon": found}, RULES, "container_anon")
    assert verdict != NO_LEAK


def test_a_leak_at_the_threshold_is_rarely_ruled_out_under_strong_autocorrelation() -> None:
    """NO LEAK at a true slope of exactly the threshold: nominal 2.5% (was 21% at rho 0.98)."""
    found = fits(0.98, THRESHOLD, reps=60)
    ruled_out = sum(f.ruled_out_above < THRESHOLD for f in found)
    assert ruled_out <= 4  # 6 of 60 before; the benchmark measures 6.7% (target 5%)


def test_the_interval_covers_a_leak_better_near_a_unit_root() -> None:
    """A 1 KiB/request leak in AR(1) noise of rho 0.995 over 180 samples, covered about 80% of
    the time (was 67%; the 93% target is not met this close to a random walk, see
    benchmarks/RESULTS.md)."""
    found = fits(0.995, 1024.0, reps=60)
    covered = sum(f.low <= 1024.0 <= f.high for f in found)
    assert covered >= 45  # 75%


def test_clean_autocorrelated_noise_is_not_significant() -> None:
    """Rho 0.98, no leak: each series at 2.5%/FAMILY (was 9.3% at 2.5% nominal)."""
    found = fits(0.98, 0.0, reps=60)
    assert sum(f.significant for f in found) <= 3  # 8 of 60 before


def test_significance_is_bonferroni_over_the_judged_family() -> None:
    found = fits(0.0, 0.0, reps=1)[0]
    df = found.n_effective - 2
    assert found.critical == growth.t_quantile(1 - growth.ALPHA / growth.FAMILY, df)
    assert found.critical > 2.7  # not the single series' 1.96


def test_the_detectable_figure_is_what_the_rule_detects_80_percent_of_the_time() -> None:
    """At the reported size the LEAK rule fires about 80% of the time (was 16-21% at the old
    figure of 2.8 standard errors, which left out the second half's test and the threshold)."""
    clean = fits(0.5, 0.0, reps=20)
    figure = sorted(f.detectable_over(THRESHOLD, MIB) for f in clean)[10]
    found = fits(0.5, figure, reps=60)
    assert 0.6 <= sum(map(leak, found)) / len(found) <= 0.97


def test_a_leak_growing_in_arena_steps_is_still_growing_in_its_second_half() -> None:
    """A real run (benchmarks/corpus, logging_logger_per_request, leaky): the container grew
    ~1.35 KB/request in arena-sized steps over both halves alike. Its second half, tested at
    the family's level with its few effective samples (t at 3 df: 7.6), read as a plateau and
    the run as INCONCLUSIVE; at 2.5% on its own it is still growing."""
    lines = (DATA / "logger_leak_window.csv").read_text().splitlines()[1:]
    requests = [float(line.split(",")[0]) for line in lines]
    values = [float(line.split(",")[1]) for line in lines]
    found = fit_growth(requests, values)
    assert found is not None and found.significant and not found.step
    assert found.sustained and found.second_half_slope > 0.9 * found.slope
    assert _judge_memory("container_anon", found, RULES) == (True, "sustained growth")
