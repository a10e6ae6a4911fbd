"""Whether a resource series (open fds, sockets, threads, asyncio tasks) that grew over the
judged window is leaking, against a floor set by the load's concurrency rather than by one
service's own counts."""

from __future__ import annotations

from harness.analyze.growth import GrowthFit

#: a resource must grow by more than this many units over the window, whatever the load
RESOURCE_MIN_GROWTH = 3.0


def resource_floor(rows: list[dict[str, str]]) -> float:
    """How much a resource may grow over the window and still be what the load holds, not a
    leak: one per concurrent user. What a request holds while in flight (a socket, a task, a
    worker thread) or a pool keeps for the next one (a keep-alive connection to an upstream)
    is bounded by the requests in flight, and a pool can settle during the window as the
    concurrency it meets varies (a fresh-clone `full` run's fds rose by 11 under 16 users and
    stayed there). A leak grows past any such bound; and at least `RESOURCE_MIN_GROWTH`,
    under which a count is one pool's connection opened late."""
    users = max((float(r["users"]) for r in rows if r.get("users")), default=0.0)
    return max(users, RESOURCE_MIN_GROWTH)


def judge_resource(found: GrowthFit | None, floor: float) -> tuple[bool, str]:
    if found is None:
        return False, "not enough samples"
    if not (found.significant and found.sustained) or found.step:
        return False, "no sustained trend"
    if found.total_growth <= floor:
        return False, (
            f"grew by {found.total_growth:.1f}, within {floor:.0f} (one per concurrent user: "
            "what the load holds in flight or in its pools)"
        )
    return True, f"+{found.total_growth:.0f} over the window"
