"""What a growing memory series kept once the load stopped: its level after the app's garbage
collection (and before its caches are cleared), against where the judged window began.

Over a short window a series can grow by what requests hold while in flight: a download's
1 MiB chunk held through the window's last seconds lifts malloc in use and the Python heap by a
step that a line fit reads as growth (seen in a clean quick run with files in the mix). A leak
keeps what it took when the load stops and the garbage is collected; memory held in flight
goes. So a series whose trend says LEAK must also have kept at least the leak threshold per
request of the window (`verdict.judge`). The collection is the app's GC endpoint's, or the heap
agent's in a Python target without one. A run without that reading (not a Python target and no
GC endpoint, a run that died under load, a run directory from before it was taken) is judged
on its trend alone."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: the `via` of a cleanup event the heap agent answered (the app's own carry an HTTP status)
AGENT = "agent"
#: a sample whose clock is this close to the clear-cache request may already show its effect
#: (its stats are read after its time stamp)
CLEAR_MARGIN_S = 0.3


@dataclass(frozen=True)
class Kept:
    """One series' level after the collection against the window's start."""

    start: float  # the median of the window's first tenth (peaks in flight do not move it)
    after_collection: float  # the highest sample between the GC and the clear-cache
    requests: float  # requests from the start's sample to the window's end

    @property
    def per_request(self) -> float:
        return (self.after_collection - self.start) / self.requests


def answered(event: dict[str, Any]) -> bool:
    """A cleanup the target carried out: its endpoint said 200, or the agent answered."""
    if event.get("via") == AGENT:
        return "answer" in event
    return event.get("status") == 200


def after_collection(
    samples: list[dict[str, str]], events: list[dict[str, Any]], window_end: float
) -> list[dict[str, str]]:
    """Samples taken after the first GC that followed the window (time `window_end`) and before
    the clear-cache that came next; none when the run has no such GC."""
    asked = [
        e
        for e in events
        if e.get("event") == "cleanup" and ("status" in e or "answer" in e) and "time" in e
    ]
    gc = next((e for e in asked if e.get("action") == "gc" and float(e["time"]) > window_end), None)
    if gc is None or not answered(gc):
        return []
    following = [e for e in asked if float(e["time"]) > float(gc["time"])]
    until = (
        float(following[0].get("sent_at", following[0]["time"])) - CLEAR_MARGIN_S
        if following
        else math.inf
    )
    return [row for row in samples if float(gc["time"]) < float(row.get("time") or 0) < until]


def kept(requests: list[float], values: list[float], after: list[float]) -> Kept | None:
    """What the series kept, or None without a reading after the collection."""
    after = [v for v in after if not math.isnan(v)]
    points = [(x, y) for x, y in zip(requests, values, strict=True) if not math.isnan(y)]
    if not after or len(points) < 6 or points[-1][0] <= points[0][0]:
        return None
    first = points[: max(3, len(points) // 10)]
    levels = sorted(y for _, y in first)
    begins = sorted(x for x, _ in first)[len(first) // 2]
    return Kept(
        start=levels[len(levels) // 2],
        after_collection=max(after),
        requests=points[-1][0] - begins,
    )
