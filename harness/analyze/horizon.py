"""The leak threshold in the terms that matter to the people who run the service: how long
until the container reaches its memory limit at production traffic.

A leak of b bytes per request, served at r requests a second, fills the headroom H (the
enforced limit less the container's level once warmed up) in H / (b * r) seconds. Asked the
other way: the leak that reaches the limit within a horizon of T hours is
b = H / (r * 3600 * T). That figure, not one service's own clean runs, is the size a slow
service and a fast one can both be judged on, and what a run rules out reads as "the limit is
at least so many days away"."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from harness.analyze.projection import CONTAINER_LEVEL, enforced_limit
from harness.rundir import SampleRow
from harness.units import GIB, MIB

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class Horizon:
    """The limit, the container's level after warm-up, the traffic and the horizon asked."""

    limit_bytes: float
    level_bytes: float  # the median of the judged window's first tenth
    production_rps: float
    time_to_limit_h: float

    @property
    def headroom_bytes(self) -> float:
        return max(self.limit_bytes - self.level_bytes, 0.0)

    @property
    def bytes_per_request(self) -> float:
        """The smallest leak that reaches the limit within the horizon at production traffic."""
        return self.headroom_bytes / (self.production_rps * SECONDS_PER_HOUR * self.time_to_limit_h)

    def days_to_limit(self, bytes_per_request: float) -> float | None:
        """Days until the limit at a leak of this size (None: it does not grow)."""
        if bytes_per_request <= 0:
            return None
        return self.headroom_bytes / (bytes_per_request * self.production_rps * 86400.0)

    def question(self) -> str:
        return (
            f"a leak that reaches the {_size(self.limit_bytes)} limit within "
            f"{_duration(self.time_to_limit_h)} at {self.production_rps:g} req/s (from "
            f"{_size(self.level_bytes)} after warm-up) is >= {self.bytes_per_request:,.0f} "
            "B/request"
        )

    def ruled_out(self, upper_bytes_per_request: float) -> str:
        """What a run that ruled out leaks above `upper_bytes_per_request` says of the limit."""
        days = self.days_to_limit(upper_bytes_per_request)
        if days is None:
            return "no growth toward the limit"
        return (
            f"at {self.production_rps:g} req/s the {_size(self.limit_bytes)} limit is at least "
            f"{days:,.1f} days away"
        )


def horizon(
    rows: list[SampleRow],
    meta: dict[str, object],
    production_rps: float,
    time_to_limit_h: float,
    fallback_limit_mb: float,
) -> Horizon | None:
    """The judged window's horizon; None without a container or process level in `rows`, or
    without traffic or a horizon to ask about."""
    if production_rps <= 0 or time_to_limit_h <= 0:
        return None
    for name in CONTAINER_LEVEL:
        level = [float(row[name]) for row in rows if row.get(name)]
        if level:
            first = level[: max(3, len(level) // 10)]
            return Horizon(
                limit_bytes=enforced_limit(rows, dict(meta), fallback_limit_mb),
                level_bytes=statistics.median(first),
                production_rps=production_rps,
                time_to_limit_h=time_to_limit_h,
            )
    return None


def _size(value: float) -> str:
    return f"{value / GIB:,.1f} GiB" if value >= GIB else f"{value / MIB:,.0f} MiB"


def _duration(hours: float) -> str:
    if hours >= 48 and hours % 24 == 0:
        return f"{hours / 24:g} days"
    return f"{hours:g} h"
