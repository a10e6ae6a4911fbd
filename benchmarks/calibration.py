"""Calibration of the growth statistics: synthetic memory series with a known leak through the
same code the verdict runs (`fit_growth`, `_judge_memory`, `_no_leak_or_inconclusive`, the
stall check and the verdict's "detectable" figure), one series per replicate.

    .venv/bin/python benchmarks/calibration.py --quick            # 150 reps a cell, < 60 s
    .venv/bin/python benchmarks/calibration.py                    # 1000 reps a cell, minutes
    .venv/bin/python benchmarks/calibration.py --quick --tag before

Per noise model it prints: the false LEAK rate (no leak; per series, and the Bonferroni bound
over the five memory series a verdict judges at most), how often a leak exactly at the
threshold is wrongly ruled out (NO LEAK), how often the 95% interval holds the true slope, and
the measured 80%-power size of the whole LEAK rule beside the median "detectable" figure the
verdict reports. Fixed seeds: the same command gives the same table. Raw counts go to
benchmarks/results/calibration[_TAG].jsonl, the table to .txt.

Scale (like test/data/pre17-quick-run: 0.5 s samples, 16 requests each, residual sd 1.2 MiB,
lag-1 autocorrelation 0.88): 180 samples at 1 s, 30 +- 5 requests a sample, noise sd 1 MiB,
threshold 512 B/request (the quick scenario's), growth floor 1 MiB."""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from multiprocessing import Pool
from pathlib import Path
from statistics import NormalDist
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from harness.analyze.growth import fit_growth  # noqa: E402
from harness.analyze.verdict import (  # noqa: E402
    INCONCLUSIVE,
    LEAK,
    NO_LEAK,
    Rules,
    _judge_memory,
    _no_leak_or_inconclusive,
)
from harness.analyze.window import stalled  # noqa: E402

MIB = 1024.0 * 1024.0
THRESHOLD = 512.0
RULES = Rules(leak_bytes_per_request=THRESHOLD, min_leak_growth_mb=1.0)
SIGMA = 1.0 * MIB
N = 180
FAMILY = 9  # series a verdict judges at most at once (five memory, four resources)
QUICK_LEAKS = (0.0, 0.5, 1.0, 2.0, 4.0)  # in thresholds
FULL_LEAKS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
SERIES = "container_anon"
# shape models: the window's own trend is not the leak, so their coverage is not reported
SHAPES = {"saw-1", "saw-3", "step", "plateau", "stalled"}

Noise = Callable[[random.Random, int], list[float]]


def ar1(rho: float, sd: float = SIGMA) -> Noise:
    def draw(rng: random.Random, n: int) -> list[float]:
        value, out = rng.gauss(0, sd), []
        for _ in range(n):
            out.append(value)
            value = rho * value + rng.gauss(0, sd * math.sqrt(1 - rho * rho))
        return out

    return draw


def walk(rng: random.Random, n: int) -> list[float]:
    """Random-walk drift (steps of 0.1 sd: about 1.3 sd over the window) plus white noise."""
    level, out = 0.0, []
    for _ in range(n):
        level += rng.gauss(0, 0.1 * SIGMA)
        out.append(level + rng.gauss(0, 0.3 * SIGMA))
    return out


def sawtooth(periods_per_window: float) -> Noise:
    """A clean GC sawtooth of 20 MiB (rises, then collected), random phase, small noise."""

    def draw(rng: random.Random, n: int) -> list[float]:
        period = n / periods_per_window
        phase = rng.uniform(0, period)
        return [
            20 * MIB * (((i + phase) % period) / period) + rng.gauss(0, 0.3 * SIGMA)
            for i in range(n)
        ]

    return draw


def step(rng: random.Random, n: int) -> list[float]:
    """A pool or arena that grows once: 8 MiB at a random point in the middle 60%."""
    at = rng.randint(int(0.2 * n), int(0.8 * n))
    return [(8 * MIB if i >= at else 0.0) + v for i, v in enumerate(ar1(0.5)(rng, n))]


def plateau(rng: random.Random, n: int) -> list[float]:
    """A cache that fills 8 MiB over the window's first 30%, then holds."""
    fill = 0.3 * n
    return [8 * MIB * min(i / fill, 1.0) + v for i, v in enumerate(ar1(0.5)(rng, n))]


def stall_climb(rng: random.Random, n: int) -> list[float]:
    """Memory climbing 30 MiB over the last 40% while requests stop (see `requests_for`)."""
    start = 0.6 * n
    return [
        30 * MIB * max(0.0, (i - start) / (n - start)) + v for i, v in enumerate(ar1(0.5)(rng, n))
    ]


MODELS: dict[str, Noise] = {
    "white": ar1(0.0),
    "ar0.5": ar1(0.5),
    "ar0.9": ar1(0.9),
    "ar0.98": ar1(0.98),
    "ar0.995": ar1(0.995),
    "walk": walk,
    "saw-q": sawtooth(4.0),  # period a quarter of the window
    "saw-1": sawtooth(1.0),  # period the window
    "saw-3": sawtooth(1 / 3),  # period three windows
    "step": step,
    "plateau": plateau,
    "stalled": stall_climb,
}


def requests_for(model: str, rng: random.Random, n: int) -> list[float]:
    """Cumulative requests, 30 +- 5 a sample; a stalled target serves none after 60%."""
    total, out = 0.0, []
    for i in range(n):
        out.append(total)
        if not (model == "stalled" and i >= 0.6 * n):
            total += max(0, round(rng.gauss(30, 5)))
    return out


def detectable(found: Any) -> float:
    """The figure the verdict reports: the LEAK rule's where the fit has it, else the fit's."""
    over = getattr(found, "detectable_over", None)
    if over is not None:
        return float(over(RULES.leak_bytes_per_request, RULES.min_leak_growth_mb * MIB))
    return float(found.detectable)


def look_sizes(looks: int) -> list[int]:
    """Samples seen at each look of a run that may stop once decided: N (the fixed-length
    run's), doubling (harness.load.scenario.look_times with max = 2**(looks-1) durations)."""
    return [N << k for k in range(looks)]


def judged(
    requests: list[float], values: list[float], rows: list[dict[str, str]], share: float
) -> tuple[str, Any]:
    found = fit_growth(requests, values, share=share)
    if found is None:
        return INCONCLUSIVE, None
    is_leak, _ = _judge_memory(SERIES, found, RULES)
    if is_leak:
        verdict = LEAK
    else:
        verdict, _, _ = _no_leak_or_inconclusive({SERIES: found}, RULES, SERIES)
    if stalled(rows) is not None:  # judge() overrides any verdict of a stalled window
        verdict = INCONCLUSIVE
    return verdict, found


def one(model: str, leak: float, rep: int, looks: int = 1) -> tuple[str, bool, float, float]:
    """(verdict, interval holds the true slope, detectable figure, share of the longest run
    used) of one replicate. With looks > 1 it is judged on growing prefixes of the series,
    each look at 1/looks of the error budgets, and stops at the first NO LEAK."""
    rng = random.Random(f"{model}/{leak}/{rep}")
    longest = look_sizes(looks)[-1]
    requests = requests_for(model, rng, longest)
    noise = MODELS[model](rng, longest)
    slope = leak * THRESHOLD
    values = [80 * MIB + slope * x + v for x, v in zip(requests, noise, strict=True)]
    rows = [
        {"time": str(1000.0 + i), "phase": "load-1", "requests": str(x), "users": "8"}
        for i, x in enumerate(requests)
    ]
    verdict, found, n = INCONCLUSIVE, None, longest
    for n in look_sizes(looks):
        verdict, found = judged(requests[:n], values[:n], rows[:n], 1.0 / looks)
        if verdict == NO_LEAK:  # as harness/run/looks.py: a LEAK waits for the last look
            break
    if found is None:
        return INCONCLUSIVE, False, math.nan, n / longest
    return verdict, found.low <= slope <= found.high, detectable(found), n / longest


def cell(args: tuple[str, float, int, int]) -> dict[str, Any]:
    model, leak, reps, looks = args
    verdicts: Counter[str] = Counter()
    covered, figures, used = 0, [], 0.0
    for rep in range(reps):
        verdict, holds, figure, length = one(model, leak, rep, looks)
        verdicts[verdict] += 1
        covered += holds
        figures.append(figure)
        used += length
    return {
        "model": model,
        "leak_thresholds": leak,
        "reps": reps,
        "leak": verdicts[LEAK],
        "no_leak": verdicts[NO_LEAK],
        "inconclusive": verdicts[INCONCLUSIVE],
        "covered": covered,
        "detectable_median": statistics.median(f for f in figures if not math.isnan(f)),
        "looks": looks,
        "length_used": used / reps,
    }


def power80(cells: list[dict[str, Any]]) -> float | None:
    """The leak (B/request) the LEAK rule finds 80% of the time: interpolated between the
    grid's leak sizes on the probit scale (a power curve is close to a normal CDF there, so a
    coarse grid does not bias it the way a straight line between its points does); None when
    even the largest leak tried is found less often."""
    normal = NormalDist()

    def probit(c: dict[str, Any]) -> float:
        share = min(max(c["leak"], 0.5), c["reps"] - 0.5) / c["reps"]
        return normal.inv_cdf(share)

    points = sorted((c["leak_thresholds"] * THRESHOLD, probit(c)) for c in cells)
    target = normal.inv_cdf(0.8)
    for (x0, p0), (x1, p1) in pairwise(points):
        if p0 < target <= p1:
            return x0 + (target - p0) / (p1 - p0) * (x1 - x0)
    return points[0][0] if points and points[0][1] >= target else None


def table(results: list[dict[str, Any]], title: str) -> str:
    shown = [m for m in MODELS if any(c["model"] == m for c in results)]
    head = (
        f"{'model':<9} {'false LEAK':>10} {'x9 bound':>8} {'ruled out @T':>12} {'coverage':>8} "
        f"{'80% power':>10} {'reported':>9} {'ratio':>6}"
    )
    lines = [title, head, "-" * len(head)]
    for model in shown:
        cells = [c for c in results if c["model"] == model]
        zero = next(c for c in cells if c["leak_thresholds"] == 0)
        at = next(c for c in cells if c["leak_thresholds"] == 1)
        false_leak = zero["leak"] / zero["reps"]
        ruled = at["no_leak"] / at["reps"]
        coverage = sum(c["covered"] for c in cells) / sum(c["reps"] for c in cells)
        measured = power80(cells)
        reported = statistics.median(c["detectable_median"] for c in cells)
        lines.append(
            f"{model:<9} {false_leak:>10.1%} {min(1.0, FAMILY * false_leak):>8.1%} "
            f"{ruled:>12.1%} "
            + (f"{'n/a':>8} " if model in SHAPES else f"{coverage:>8.1%} ")
            + (
                f"{measured:>10,.0f} "
                if measured is not None
                else f"{'>' + str(int(max(c['leak_thresholds'] for c in cells) * THRESHOLD)):>10} "
            )
            + f"{reported:>9,.0f} "
            + (f"{reported / measured:>6.2f}" if measured else f"{'-':>6}")
        )
    lines.append(
        f"threshold {THRESHOLD:.0f} B/request, floor {RULES.min_leak_growth_mb:g} MiB; n={N}, "
        f"30+-5 requests/sample, noise sd {SIGMA / MIB:g} MiB; false LEAK: no leak, per series "
        f"(x{FAMILY}: the Bonferroni bound over {FAMILY} judged series); ruled out @T: a leak of "
        "exactly the threshold judged NO LEAK; coverage: the 95% interval holds the true slope "
        "(all leaks); "
        "80% power: measured size of leak the LEAK rule finds 80% of the time (B/request); "
        "reported: median 'detectable' figure the verdict reports"
    )
    return "\n".join(lines)


def main() -> int:
    global N
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="150 reps a cell, 5 leak sizes")
    parser.add_argument("--reps", type=int, help="replicates per cell (default 150 / 1000)")
    parser.add_argument("--tag", default="", help="suffix of the result files: calibration_TAG")
    parser.add_argument("--models", nargs="*", default=list(MODELS), help="a subset")
    parser.add_argument(
        "--looks",
        type=int,
        default=1,
        help="judge each series at this many growing prefixes (a run that stops once decided)",
    )
    parser.add_argument("--samples", type=int, default=N, help=f"samples a run (default {N})")
    args = parser.parse_args()
    N = args.samples  # the workers are forked after this
    reps = args.reps or (150 if args.quick else 1000)
    leaks = QUICK_LEAKS if args.quick else FULL_LEAKS
    jobs = [(m, k, reps, args.looks) for m in MODELS if m in args.models for k in leaks]
    started = time.monotonic()
    with Pool() as pool:
        results = pool.map(cell, jobs, chunksize=1)
    title = (
        f"calibration ({'quick' if args.quick else 'full'}: {reps} reps a cell, leaks "
        f"{', '.join(f'{k:g}' for k in leaks)} x threshold; {time.monotonic() - started:.0f} s)"
    )
    if args.looks > 1:
        used = {
            k: statistics.mean(r["length_used"] for r in results if r["leak_thresholds"] == k)
            for k in leaks
        }
        title += (
            f"\n{args.looks} looks at {', '.join(str(n) for n in look_sizes(args.looks))} "
            f"samples, each at 1/{args.looks} of the error budgets; share of the longest run "
            "used, by leak size: " + ", ".join(f"{k:g}: {u:.0%}" for k, u in used.items())
        )
    text = table(results, title)
    print(text)
    stem = ROOT / "benchmarks" / "results" / f"calibration{'_' + args.tag if args.tag else ''}"
    stem.with_suffix(".jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    stem.with_suffix(".txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
