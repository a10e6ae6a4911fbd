"""The growth statistics on synthetic series with known answers."""

from __future__ import annotations

import math
import random

import pytest

from harness.analyze.growth import fit_growth

KIB = 1024.0
MIB = 1024.0 * 1024.0


def series(
    n: int = 180,
    per_step: float = 30.0,
    slope: float = 0.0,
    noise: float = 200 * KIB,
    rho: float = 0.8,
    seed: int = 1,
) -> tuple[list[float], list[float]]:
    """`n` samples, `per_step` requests apart, a true slope in bytes/request, AR(1) noise."""
    rng = random.Random(seed)
    requests, values, drift = [], [], 0.0
    for i in range(n):
        drift = rho * drift + rng.gauss(0, noise * math.sqrt(1 - rho * rho))
        x = i * per_step + rng.uniform(-3, 3)
        requests.append(x)
        values.append(80 * MIB + slope * x + drift)
    return requests, values


@pytest.mark.parametrize("rate", [256.0, 1 * KIB, 4 * KIB, 16 * KIB])
def test_linear_leaks_are_found_and_the_interval_holds_the_true_slope(rate: float) -> None:
    found = fit_growth(*series(slope=rate))
    assert found is not None
    assert found.significant and found.sustained and not found.step
    assert found.low <= rate <= found.high


def test_clean_noisy_series_is_not_a_trend() -> None:
    alarms = 0
    for seed in range(40):
        found = fit_growth(*series(seed=seed, rho=0.9))
        assert found is not None
        alarms += found.significant
    assert alarms <= 3  # at most a few of 40 at the 5% level, even with strong autocorrelation


def test_interval_coverage_on_noisy_leaks() -> None:
    covered = 0
    for seed in range(30):
        found = fit_growth(*series(slope=1 * KIB, seed=seed, rho=0.7, noise=400 * KIB))
        assert found is not None
        covered += found.low <= 1 * KIB <= found.high
    assert covered >= 26  # ~95% nominal


def test_a_cache_filling_to_its_bound_is_not_sustained() -> None:
    requests, values = series(slope=0.0, noise=50 * KIB)
    bound = 2000.0
    filled = [v + 8 * KIB * min(x, bound) for x, v in zip(requests, values, strict=True)]
    found = fit_growth(requests, filled)
    assert found is not None and not found.sustained


def test_a_single_step_is_a_step() -> None:
    requests, values = series(slope=0.0, noise=50 * KIB)
    stepped = [v + (20 * MIB if i > 60 else 0.0) for i, v in enumerate(values)]
    found = fit_growth(requests, stepped)
    assert found is not None and found.step


def test_a_leak_is_not_mistaken_for_a_step() -> None:
    found = fit_growth(*series(slope=4 * KIB, noise=50 * KIB))
    assert found is not None and not found.step


def test_gc_sawtooth_around_a_flat_level_is_not_a_trend() -> None:
    requests, values = series(slope=0.0, noise=20 * KIB)
    saw = [v + (i % 15) * 600 * KIB for i, v in enumerate(values)]
    found = fit_growth(requests, saw)
    assert found is not None and not (found.significant and found.sustained)


def test_sawtooth_riding_a_leak_is_found() -> None:
    requests, values = series(slope=4 * KIB, noise=20 * KIB)
    saw = [v + (i % 15) * 600 * KIB for i, v in enumerate(values)]
    found = fit_growth(requests, saw)
    assert found is not None and found.significant and found.sustained


def test_detectable_slope_shrinks_with_a_longer_run() -> None:
    short = fit_growth(*series(n=60))
    long = fit_growth(*series(n=400))
    assert short is not None and long is not None
    assert long.detectable < short.detectable


def test_too_short_a_window_says_nothing() -> None:
    assert fit_growth([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) is None
    assert fit_growth([5.0] * 10, list(range(10))) is None
