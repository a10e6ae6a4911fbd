"""Telemetry and latency series, both bounded, each with a leak switch that unbinds it."""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from typing import Any

from resume_api.leaks import LeakInjector

log = logging.getLogger("resume_api.telemetry")

_LATENCY_WINDOW = 1000


class TelemetryBuffer:
    """Events wait here until the periodic flush exports them; the buffer drops the oldest when
    full, so a stalled exporter costs bounded memory."""

    def __init__(self, max_events: int, leaks: LeakInjector) -> None:
        self._events: deque[dict[str, Any]] = deque(maxlen=max_events)
        self._leaks = leaks
        self._never_flushed: list[dict[str, Any]] = []
        self.flushed_events = 0
        self.flushed_bytes = 0
        self.dropped_events = 0

    def record(self, event: dict[str, Any]) -> None:
        if len(self._events) == self._events.maxlen:
            self.dropped_events += 1
        self._events.append(event)
        padding = self._leaks.take("telemetry-buffer")
        if padding is not None:
            # The leak: a second, "retry" buffer that nothing ever drains.
            self._never_flushed.append({**event, "attributes": b"\x5a" * padding})

    def flush(self) -> int:
        """Export what is buffered (serialised and counted; the exporter itself is a log line)."""
        count = len(self._events)
        if count:
            batch = json.dumps(list(self._events), default=str)
            self._events.clear()
            self.flushed_events += count
            self.flushed_bytes += len(batch)
            log.debug("exported %d telemetry events (%d bytes)", count, len(batch))
        return count

    def stats(self) -> dict[str, int]:
        return {
            "buffered_events": len(self._events) + len(self._never_flushed),
            "max_events": self._events.maxlen or 0,
            "flushed_events": self.flushed_events,
            "flushed_bytes": self.flushed_bytes,
            "dropped_events": self.dropped_events,
        }


class LatencyTracker:
    """Latency per route template with a bounded window each. The leak keys series by the raw
    URL (with its unique request id), so every request opens a series that is never closed."""

    def __init__(self, leaks: LeakInjector) -> None:
        self._series: dict[str, deque[float]] = {}
        self._leaks = leaks

    def record(self, route: str, raw_url: str, request_id: str, seconds: float) -> None:
        key = route
        padding = self._leaks.take("latency-by-raw-path")
        if padding is not None:
            tail = "Z" * padding  # allocated here: tracemalloc names this line
            key = f"{raw_url}#{request_id}#{tail}"
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = deque(maxlen=_LATENCY_WINDOW)
        series.append(seconds)

    def summary(self) -> dict[str, dict[str, float]]:
        result: dict[str, dict[str, float]] = {}
        for key, series in self._series.items():
            if "#" in key or not series:
                continue
            ordered = sorted(series)
            result[key] = {
                "count": len(ordered),
                "p50_ms": round(ordered[len(ordered) // 2] * 1000, 2),
                "p95_ms": round(ordered[int(len(ordered) * 0.95)] * 1000, 2),
            }
        return result

    def series_count(self) -> int:
        return len(self._series)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
