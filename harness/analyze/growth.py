"""Growth of one series against cumulative requests, with statistics that hold up on memory
data: it is autocorrelated (the allocator and the GC make it drift in runs, often close to a
random walk over a short window), it has steps (a pool or an arena grows once) and plateaus
(a cache fills to its bound). Chosen by benchmarks/calibration.py (benchmarks/RESULTS.md,
"Calibration of the growth statistics"):

- Slope: Theil-Sen (median of pairwise slopes), robust to outliers and GC sawtooth.
- Its standard error: the residuals as AR(1) noise, the variance of the line's slope under it
  computed exactly (not n/n_eff of an i.i.d. formula), times pi/3 (Theil-Sen's efficiency
  against least squares). The lag-1 autocorrelation of detrended residuals is biased low,
  worst near a unit root (a series with rho 0.995 reads about 0.9 over 180 samples); rho is
  taken as the value whose expected estimate equals the one seen (the moments of the
  residuals of a line under AR(1), exact for the window's own requests; the uncorrected
  lag-1 of ranks, capped at 0.95, covered a 1 KiB/request leak 64% of the time at 0.995).
- Interval and test: Student's t at the effective number of samples less two (n_eff: the
  samples whose i.i.d. noise would give the slope the same variance): a window whose noise
  is a few slow swings has few degrees of freedom, and a wide interval says so.
- Significance is family-wise: the verdict judges up to FAMILY series at once (five memory,
  four resources), each at 2.5% one-sided would give a clean run ~20% odds of one alarm, so
  each is tested at 2.5%/FAMILY (Bonferroni; the series move together, so it is
  conservative). The 95% interval and the NO LEAK bound stay per series: NO LEAK needs every
  judged series to rule the threshold out, which errs only if one does wrongly (<= 2.5%).
- Plateau: the second half's slope must also be significant (2.5% one-sided: ANDed with the
  family's test, it cannot raise the family-wise rate; at the family's level a leak growing
  in arena-sized steps, t at 3 df 7.6, read as a plateau) and not much smaller than the
  whole window's, or the curve has levelled off. The calibration gives a plateau's error.
- Step: a one-step model that explains the series much better than a line, with flat
  segments, is a single jump, not a leak.
- Smallest detectable slope: where both tests pass 80% of the time; with the verdict's
  threshold and growth floor, `detectable_over`.
- Looks: a run that judges itself as it goes, to stop once a leak is ruled out, looks
  up to K times; each look spends 1/K of both error budgets (`share`: the LEAK test at
  2.5%/FAMILY/K, the NO LEAK bound at 2.5%/K one-sided), so over all its looks a run errs
  no more often than a fixed-length one (the union bound: conservative, valid however the
  looks' answers depend on each other)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from operator import mul
from statistics import NormalDist

Z95 = 1.959964  # what comparisons of two runs' intervals read their spread with
Z_POWER80 = 0.841621
MAX_POINTS = 400  # Theil-Sen is O(n^2): thin longer series evenly (the trend survives)
#: the series a verdict judges at once: five memory (anon+shm or working set, shm, RSS,
#: Python heap, malloc in use; or memray's heap, shm, Python heap), four resources
FAMILY = 9
ALPHA = 0.025  # one-sided, the whole family's
#: Theil-Sen's variance over least squares' for Gaussian noise (asymptotic efficiency 3/pi)
THEIL_SEN_VARIANCE = math.pi / 3
RHO_RANGE = (0.0, 0.9995)
Z_CAP = 1e6


@dataclass(frozen=True)
class GrowthFit:
    """Growth of one series per request, over the measured window."""

    n: int
    slope: float  # units per request (Theil-Sen)
    low: float  # 95% interval of the slope
    high: float
    z: float  # slope over its standard error (AR(1) noise)
    n_effective: float
    second_half_slope: float
    second_half_low: float
    second_half_high: float
    step: bool  # one jump explains it better than a line
    detectable: float  # smallest slope the fit's tests find 80% of the time
    total_growth: float  # slope times the requests in the window
    standard_error: float = 0.0
    critical: float = 0.0  # the z the slope must pass: Bonferroni over FAMILY
    second_half_z: float = 0.0
    second_half_critical: float = 0.0
    second_half_standard_error: float = 0.0
    span: float = 0.0  # requests in the window
    #: of a single step: the larger of its two levels' upper bounds (else `upper`)
    step_high: float = 0.0
    #: the NO LEAK bound: one-sided at 2.5% times the look's share (at one look, `high`;
    #: None in a fit stored before looks were)
    upper: float | None = None

    @property
    def significant(self) -> bool:
        return self.z > self.critical and self.low > 0

    @property
    def ruled_out_above(self) -> float:
        """Growth per request above which a leak is excluded (one-sided 97.5%): the whole
        window's upper bound. Never the smaller of it and the second half's: taking the
        smaller of two bounds rules out a leak at the threshold up to 27% of the time. Of a
        single step, the model that fits it: both levels must rule the leak out."""
        if self.step:
            return self.step_high
        return self.high if self.upper is None else self.upper

    @property
    def sustained(self) -> bool:
        """Still growing in the second half (not a curve that has levelled off)."""
        return (
            self.second_half_z > self.second_half_critical
            and self.second_half_slope >= 0.33 * self.slope
        )

    def detectable_over(self, threshold: float, min_growth: float) -> float:
        """The smallest leak the verdict's LEAK rule finds 80% of the time: significant,
        sustained, at least `threshold` per request and `min_growth` over the window. The
        whole window's and the second half's tests are taken as independent (they are not:
        this errs large)."""
        floor = max(threshold, min_growth / self.span if self.span > 0 else math.inf)
        if not math.isfinite(floor):
            return math.inf
        whole = max(floor, self.critical * self.standard_error)
        half = self.second_half_critical * self.second_half_standard_error
        normal = NormalDist()

        def power(slope: float) -> float:
            p = normal.cdf((slope - whole) / self.standard_error) if self.standard_error else 1.0
            q = (
                normal.cdf((slope - half) / self.second_half_standard_error)
                if self.second_half_standard_error
                else float(slope > half)
            )
            return p * q

        low, high = (
            0.0,
            max(whole, half) + 10 * (self.standard_error + self.second_half_standard_error),
        )
        for _ in range(60):
            middle = (low + high) / 2
            low, high = (middle, high) if power(middle) < 0.8 else (low, middle)
        return high


@dataclass(frozen=True)
class _Line:
    slope: float
    standard_error: float
    df: float  # the t distribution's degrees of freedom: n_eff - 2

    @property
    def z(self) -> float:
        """Capped: a noiseless line's is infinite, and verdict.json must stay JSON."""
        if self.standard_error > 0:
            return max(-Z_CAP, min(Z_CAP, self.slope / self.standard_error))
        return math.copysign(Z_CAP, self.slope) if self.slope else 0.0

    def interval(self) -> tuple[float, float]:
        half = t_quantile(1 - 0.025, self.df) * self.standard_error
        return self.slope - half, self.slope + half

    def upper(self, share: float) -> float:
        """The one-sided upper bound at 2.5% times `share` (at 1: the interval's high)."""
        return self.slope + t_quantile(1 - 0.025 * share, self.df) * self.standard_error

    def critical(self, share: float = 1.0) -> float:
        return t_quantile(1 - ALPHA * share / FAMILY, self.df)

    def critical_alone(self, share: float = 1.0) -> float:  # a test ANDed with the family's
        return t_quantile(1 - ALPHA * share, self.df)

    @property
    def n_effective(self) -> float:
        return self.df + 2


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularized incomplete beta (Lentz's method)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-12:
            break
    return h


def _t_tail(t: float, df: float) -> float:
    """P(T > t) for t >= 0: half the regularized incomplete beta I_x(df/2, 1/2)."""
    x = df / (df + t * t)
    a, b = df / 2, 0.5
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a / 2
    return (1 - front * _beta_fraction(b, a, 1 - x) / b) / 2


@lru_cache(maxsize=4096)
def _t_quantile_cached(p: float, df: float) -> float:
    if df > 2000:
        return NormalDist().inv_cdf(p)
    low, high = 0.0, 1.0
    while _t_tail(high, df) > 1 - p:
        high *= 2
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if _t_tail(middle, df) > 1 - p else (low, middle)
    return (low + high) / 2


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile, p >= 0.5, fractional df >= 1 (rounded: cached)."""
    return _t_quantile_cached(p, round(max(df, 1.0), 2))


def _ar1_apply(v: list[float], rho: float) -> list[float]:
    """R v, R the AR(1) correlation matrix (rho^|i-j|): a forward and a backward pass."""
    forward = list(accumulate(v, lambda acc, x: rho * acc + x))
    backward = list(accumulate(reversed(v), lambda acc, x: rho * acc + x))[::-1]
    return [f + b - x for f, b, x in zip(forward, backward, v, strict=True)]


def _dot(a: list[float], b: list[float]) -> float:
    return float(sum(map(mul, a, b)))


def _lag_dot(a: list[float], b: list[float]) -> float:
    """a' A b, A the lag-1 matrix with 1/2 beside the diagonal."""
    return (_dot(a[:-1], b[1:]) + _dot(a[1:], b[:-1])) / 2


def _expected_lag1(
    basis: list[list[float]], lags: list[list[float]], rho: float
) -> tuple[float, float, float]:
    """(E e'Ae / E e'e, tr(MR), q2'Rq2): the lag-1 autocorrelation that the residuals of a
    line fit show on average under AR(1) noise rho (M: the residual maker of the line, H = I - M
    = sum of q q' over the orthonormal `basis`; `lags`: its q_k' A q_l)."""
    n = len(basis[0])
    applied = [_ar1_apply(q, rho) for q in basis]
    crossed = [[_dot(ql, rk) for ql in basis] for rk in applied]
    trace_mr = n - crossed[0][0] - crossed[1][1]
    har = sum(_lag_dot(q, r) for q, r in zip(basis, applied, strict=True))
    hahr = sum(lags[k][m] * crossed[k][m] for k in range(2) for m in range(2))
    numerator = (n - 1) * rho - 2 * har + hahr
    return numerator / trace_mr, trace_mr, crossed[1][1]


def _line(xs: list[float], ys: list[float], slope: float) -> _Line:
    """The standard error of `slope` (Theil-Sen's) under AR(1) noise, rho bias-corrected."""
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    centered = [x - mean_x for x in xs]
    sxx = _dot(centered, centered)
    if sxx <= 0 or n < 4:
        return _Line(slope, math.inf, 1.0)
    ols = _dot(centered, ys) / sxx
    residuals = [y - mean_y - ols * c for y, c in zip(ys, centered, strict=True)]
    sse = _dot(residuals, residuals)
    if sse <= 0:
        return _Line(slope, 0.0, float(n - 2))
    seen = _lag_dot(residuals, residuals) / sse
    basis = [[1 / math.sqrt(n)] * n, [c / math.sqrt(sxx) for c in centered]]
    lags = [[_lag_dot(qk, ql) for ql in basis] for qk in basis]
    low, high = RHO_RANGE
    if seen >= _expected_lag1(basis, lags, high)[0]:
        rho = high
    elif seen <= _expected_lag1(basis, lags, low)[0]:
        rho = low
    else:  # bisection on -log(1 - rho): what matters near a unit root is 1 - rho
        low, high = -math.log1p(-low), -math.log1p(-high)
        for _ in range(16):
            middle = (low + high) / 2
            below = _expected_lag1(basis, lags, -math.expm1(-middle))[0] < seen
            low, high = (middle, high) if below else (low, middle)
        rho = -math.expm1(-(low + high) / 2)
    _, trace_mr, quad = _expected_lag1(basis, lags, rho)
    variance = sse / trace_mr * quad / sxx * THEIL_SEN_VARIANCE
    n_effective = n / quad
    return _Line(slope, math.sqrt(variance), max(1.0, n_effective - 2))


def _thin(xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    if len(xs) <= MAX_POINTS:
        return xs, ys
    step = len(xs) / MAX_POINTS
    picks = [int(i * step) for i in range(MAX_POINTS)]
    return [xs[i] for i in picks], [ys[i] for i in picks]


def _theil_sen(xs: list[float], ys: list[float]) -> float | None:
    """The median of the slopes of all pairs with distinct x; None without such a pair."""
    slopes: list[float] = []
    for i, (xi, yi) in enumerate(zip(xs, ys, strict=True)):
        slopes.extend(
            (y - yi) / (x - xi) for x, y in zip(xs[i + 1 :], ys[i + 1 :], strict=True) if x > xi
        )
    if not slopes:
        return None
    slopes.sort()
    mid = len(slopes) // 2
    return slopes[mid] if len(slopes) % 2 else (slopes[mid - 1] + slopes[mid]) / 2


def _fit(xs: list[float], ys: list[float]) -> _Line | None:
    slope = _theil_sen(xs, ys)
    return None if slope is None else _line(xs, ys, slope)


def _step_explains_it(
    xs: list[float], ys: list[float], slope: float, share: float = 1.0
) -> float | None:
    """A single jump between two flat levels fits far better than the line: the larger of
    the two levels' upper bounds at the look's share (a leak would grow within both), else
    None."""
    n = len(ys)
    if n < 8:
        return None
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
        return None
    # Both levels flat: no trend left inside either segment (tested per segment at 95%).
    bound = -math.inf
    for part in (slice(0, best_at), slice(best_at, n)):
        found = _fit(xs[part], ys[part]) if len(xs[part]) >= 6 else None
        if found is None or not math.isfinite(found.standard_error):
            return math.inf
        if found.z > t_quantile(1 - 0.025, found.df):
            return None
        bound = max(bound, found.upper(share))
    return bound


def fit_growth(requests: list[float], values: list[float], share: float = 1.0) -> GrowthFit | None:
    """Growth of `values` per request; None when the window is too short to say anything.
    `share`: of the error budgets, what this look spends (1: a run judged once)."""
    points = [(x, y) for x, y in zip(requests, values, strict=True) if not math.isnan(y)]
    if len(points) < 6 or points[-1][0] - points[0][0] <= 0:
        return None
    xs, ys = _thin([p[0] for p in points], [p[1] for p in points])
    whole = _fit(xs, ys)
    if whole is None:
        return None
    low, high = whole.interval()
    half = len(xs) // 2
    # a half without requests of its own (a stalled target) has no slope: z 0, never
    # sustained, and its interval is the window's (it rules nothing out on its own)
    second = _fit(xs[half:], ys[half:]) or _Line(0.0, math.inf, 1.0)
    second_low, second_high = (
        second.interval() if math.isfinite(second.standard_error) else (low, high)
    )
    second_se = second.standard_error if math.isfinite(second.standard_error) else 0.0
    span = xs[-1] - xs[0]
    z_power = Z_POWER80
    critical, second_critical = whole.critical(share), second.critical_alone(share)
    upper = whole.upper(share)
    step = _step_explains_it(xs, ys, whole.slope, share)
    return GrowthFit(
        n=len(points),
        slope=whole.slope,
        low=low,
        high=high,
        z=whole.z,
        n_effective=whole.n_effective,
        second_half_slope=second.slope,
        second_half_low=second_low,
        second_half_high=second_high,
        step=step is not None,
        detectable=max(
            (critical + z_power) * whole.standard_error,
            (second_critical + z_power) * second_se,
        ),
        total_growth=whole.slope * span,
        standard_error=whole.standard_error,
        critical=critical,
        second_half_z=second.z,
        second_half_critical=second_critical,
        second_half_standard_error=second_se,
        span=span,
        step_high=upper if step is None else min(upper, step),
        upper=upper,
    )
