"""How a run that may stop once it rules a leak out ended: at which look, after how long, and why.

The run (harness/run/looks.py) judges itself at the times run.json's "looks" lists (seconds
into the measured load; the last is the most it may run) and records each look as an event;
the last look is the judgement of the whole run, after it ends."""

from __future__ import annotations

from typing import Any

#: the event a look records: index (from 1), at_s, verdict, stop
LOOK_EVENT = "look"


def how_it_stopped(meta: dict[str, Any], events: list[dict[str, Any]]) -> str | None:
    """A sentence for the report; None for a run of fixed length."""
    planned = [float(t) for t in meta.get("looks") or [] if isinstance(t, int | float)]
    if not planned:
        return None
    looks = [e for e in events if e.get("event") == LOOK_EVENT]
    stopped = next((e for e in looks if e.get("stop")), None)
    most = f"at most {planned[-1]:,.0f} s"
    if stopped is not None:
        return (
            f"stopped early, {float(stopped.get('at_s') or 0):,.0f} s into the load ({most}): "
            f"{stopped.get('verdict')} at look {stopped.get('index')} of {len(planned)}"
        )
    if len(looks) >= len(planned) - 1:
        counted = "its earlier look" if len(looks) == 1 else f"its {len(looks)} earlier looks"
        earlier = f" (no leak ruled out at {counted})" if looks else ""
        return f"ran the longest load it may, {planned[-1]:,.0f} s{earlier}"
    return f"ended after {len(looks)} of {len(planned)} looks ({most})"
