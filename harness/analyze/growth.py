"""Growth of one series against cumulative requests, with statistics that hold up on memory
data: it is autocorrelated (the allocator and the GC make it drift in runs), it has steps
(a pool or an arena grows once) and plateaus (a cache fills to its bound).

- Slope: Theil-Sen (median of pairwise slopes), robust to outliers and GC sawtooth.
- Trend test: Mann-Kendall S, with its variance inflated by n/n_eff, n_eff from the lag-1
  autocorrelation of the detrended ranks (the AR(1) correction); plain Mann-Kendall would
  fire on the autocorrelated noise of a clean service.
- Interval: Sen's rank-based 95% interval of the slope, from the same corrected variance.
- Plateau: the slope of the second half of the window must also be significant and not
  much smaller than the whole window's, or it is a curve that has levelled off.
- Step: a one-step model that explains the series much better than a line, with flat
  segments, is a single jump, not a leak.
- Smallest detectable slope: the slope this run would have found significant with 80%
  power, from the interval's width (2.8 standard errors)."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959964
Z_POWER80 = 0.841621
MAX_POINTS = 400  # Theil-Sen is O(n^2): thin longer series evenly (the trend survives)


@dataclass(frozen=True)
class GrowthFit:
    """Growth of one series per request, over the measured window."""

    n: int
    slope: float  # units per request (Theil-Sen)
    low: float  # 95% interval of the slope
    high: float
    z: float  # Mann-Kendall statistic after the autocorrelation correction
    n_effective: float
    second_half_slope: float
    second_half_low: float
    second_half_high: float
    step: bool  # one jump explains it better than a line
    detectable: float  # smallest slope this run would have detected (80% power)
    total_growth: float  # slope times the requests in the window

    @property
    def significant(self) -> bool:
        return self.z > Z95 and self.low > 0

    @property
    def ruled_out_above(self) -> float:
        """Growth per request above which a sustained leak is excluded (95%): the whole
        window's upper bound, or the second half's when the series has levelled off."""
        return min(self.high, self.second_half_high)

    @property
    def sustained(self) -> bool:
        """Still growing in the second half (not a curve that has levelled off)."""
        return self.second_half_low > 0 and self.second_half_slope >= 0.33 * self.slope


def _thin(xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    if len(xs) <= MAX_POINTS:
        return xs, ys
    step = len(xs) / MAX_POINTS
    picks = [int(i * step) for i in range(MAX_POINTS)]
    return [xs[i] for i in picks], [ys[i] for i in picks]


def _pairwise_slopes(xs: list[float], ys: list[float]) -> tuple[list[float], int]:
    """Sorted slopes of all pairs with distinct x, and the Mann-Kendall S."""
    slopes: list[float] = []
    s = 0
    n = len(xs)
    for i in range(n - 1):
        xi, yi = xs[i], ys[i]
        for j in range(i + 1, n):
            dx = xs[j] - xi
            dy = ys[j] - yi
            if dx > 0:
                slopes.append(dy / dx)
            s += (dy > 0) - (dy < 0)
    slopes.sort()
    return slopes, s


def _median(values: list[float]) -> float:
    n = len(values)
    mid = n // 2
    return values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2


def _lag1_autocorrelation(values: list[float]) -> float:
    n = len(values)
    mean = sum(values) / n
    centered = [v - mean for v in values]
    denominator = sum(c * c for c in centered)
    if denominator == 0:
        return 0.0
    return sum(centered[i] * centered[i + 1] for i in range(n - 1)) / denominator


def _ranks(values: list[float]) -> list[float]:
    """Ranks with ties sharing their mean rank: a noiseless series (all residuals 0) must
    not look perfectly autocorrelated, which ranking ties in index order would make it."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2
        start = end + 1
    return ranks


def _sen(xs: list[float], ys: list[float]) -> tuple[float, float, float, float, float]:
    """(slope, low, high, z, n_eff) for one window."""
    n = len(xs)
    slopes, s = _pairwise_slopes(xs, ys)
    if not slopes:
        return 0.0, 0.0, 0.0, 0.0, float(n)
    slope = _median(slopes)
    intercept = _median([y - slope * x for x, y in zip(xs, ys, strict=True)])
    residuals = [y - (intercept + slope * x) for x, y in zip(xs, ys, strict=True)]
    rho = max(0.0, min(0.95, _lag1_autocorrelation(_ranks(residuals))))
    inflation = (1 + rho) / (1 - rho)
    n_eff = n / inflation
    variance = n * (n - 1) * (2 * n + 5) / 18.0 * inflation
    sd = math.sqrt(variance)
    z = (s - 1) / sd if s > 0 else (s + 1) / sd if s < 0 else 0.0
    count = len(slopes)
    c = Z95 * sd
    lower_rank = max(0, math.floor((count - c) / 2))
    upper_rank = min(count - 1, math.ceil((count + c) / 2))
    return slope, slopes[lower_rank], slopes[upper_rank], z, n_eff


def _step_explains_it(xs: list[float], ys: list[float], slope: float) -> bool:
    """A single jump between two flat levels fits far better than the line."""
    n = len(ys)
    if n < 8:
        return False
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    line_sse = sum((y - mean_y - slope * (x - mean_x)) ** 2 for x, y in zip(xs, ys, strict=True))
    prefix = [0.0]
    prefix_sq = [0.0]
    for y in ys:
        prefix.append(prefix[-1] + y)
        prefix_sq.append(prefix_sq[-1] + y * y)
    best_sse, best_at = math.inf, 0
    for k in range(3, n - 2):
        left = prefix_sq[k] - prefix[k] ** 2 / k
        right = (prefix_sq[n] - prefix_sq[k]) - (prefix[n] - prefix[k]) ** 2 / (n - k)
        if left + right < best_sse:
            best_sse, best_at = left + right, k
    if best_sse >= 0.5 * line_sse:
        return False
    # Both levels flat: no trend left inside either segment.
    for part in (slice(0, best_at), slice(best_at, n)):
        seg_x, seg_y = xs[part], ys[part]
        if len(seg_x) >= 6:
            _, low, _, z, _ = _sen(seg_x, seg_y)
            if z > Z95 and low > 0:
                return False
    return True


def fit_growth(requests: list[float], values: list[float]) -> GrowthFit | None:
    """Growth of `values` per request; None when the window is too short to say anything."""
    points = [(x, y) for x, y in zip(requests, values, strict=True) if not math.isnan(y)]
    if len(points) < 6 or points[-1][0] - points[0][0] <= 0:
        return None
    xs, ys = _thin([p[0] for p in points], [p[1] for p in points])
    slope, low, high, z, n_eff = _sen(xs, ys)
    half = len(xs) // 2
    second_slope, second_low, second_high, _, _ = _sen(xs[half:], ys[half:])
    standard_error = max(high - low, 0.0) / (2 * Z95)
    span = xs[-1] - xs[0]
    return GrowthFit(
        n=len(points),
        slope=slope,
        low=low,
        high=high,
        z=z,
        n_effective=n_eff,
        second_half_slope=second_slope,
        second_half_low=second_low,
        second_half_high=second_high,
        step=_step_explains_it(xs, ys, slope),
        detectable=(Z95 + Z_POWER80) * standard_error,
        total_growth=slope * span,
    )
