"""What a leak is made of: resources, container-only memory (tmpfs/shm), the native heap
(C's malloc) or the Python heap, from which series grew together."""

from __future__ import annotations

from collections.abc import Iterable

from harness.analyze.growth import GrowthFit
from harness.series import HEAP_SERIES, RESOURCE_SERIES

#: without a heap series of its own, the service's heap snapshots attribute a leak: their
#: traced growth keeping up with a quarter of the memory's says the Python heap holds it
#: (tracemalloc's own bookkeeping, up to ~2x for small objects, grows RSS beside what it
#: traces; a leak in C's malloc leaves the traced heap flat)
SNAPSHOT_HEAP_SHARE = 0.25


def classify(leaking: dict[str, GrowthFit]) -> list[str]:
    """What grows: resources, container-only (tmpfs/shm), native, python-heap."""
    classes = [f"resources:{name}" for name in RESOURCE_SERIES if name in leaking]
    ws = leaking.get("container_anon") or leaking.get("working_set")
    rss, heap = leaking.get("rss"), leaking.get("app_heap")
    shm = leaking.get("shmem")
    if shm is not None or (ws is not None and (rss is None or rss.slope < 0.33 * ws.slope)):
        classes.append("container-only")
    # native: RSS or the C allocator's in-use bytes grow, and the Python heap does not keep
    # up (malloc also serves Python's large objects, so a heap leak moves both together)
    counted = (rss, leaking.get("app_malloc"), leaking.get(HEAP_SERIES))
    native = [t for t in counted if t is not None]
    if native and (heap is None or heap.slope < 0.5 * max(t.slope for t in native)):
        classes.append("native")
    if heap is not None:
        classes.append("python-heap")
    return classes


def attribute_by_snapshots(
    classes: list[str],
    bytes_per_request: float | None,
    judged_series: Iterable[str],
    snapshot_heap_bytes_per_request: float | None,
) -> list[str]:
    """A leak classed `native` only because no heap series was measured is the Python heap's
    when the snapshots' traced heap kept up, and unattributed when nothing measured the heap
    (a Python service without memory endpoints grew RSS: that alone is no evidence of a
    native leak)."""
    heap_measured = any(name in ("app_heap", HEAP_SERIES) for name in judged_series)
    if "native" not in classes or heap_measured or not bytes_per_request:
        return classes
    if snapshot_heap_bytes_per_request is None:
        label = "unattributed"
    elif snapshot_heap_bytes_per_request >= SNAPSHOT_HEAP_SHARE * bytes_per_request:
        label = "python-heap"
    else:
        return classes
    kept = [c for c in classes if c != "native"]
    return kept if label in kept else [*kept, label]
