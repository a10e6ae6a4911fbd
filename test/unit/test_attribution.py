"""What a leak is made of, for a service that reports no heap series: its heap snapshots
decide between the Python heap and C's malloc (the prometheus_client corpus case, a Python
heap leak, was classed `native` because nothing but RSS was measured)."""

from __future__ import annotations

from harness.analyze.attribution import attribute_by_snapshots

RSS_ONLY = ["container_anon", "rss", "fds"]


def test_a_leak_the_traced_heap_keeps_up_with_is_the_python_heaps() -> None:
    # RSS +12.4 KB/request, of which the snapshots traced +3.1 KB (tracemalloc's bookkeeping
    # is the rest): prometheus_client's label children
    assert attribute_by_snapshots(["native"], 12_400, RSS_ONLY, 3_100) == ["python-heap"]


def test_a_leak_the_traced_heap_does_not_see_stays_native() -> None:
    assert attribute_by_snapshots(["native"], 12_400, RSS_ONLY, 150) == ["native"]


def test_without_snapshots_or_a_heap_series_nothing_says_native() -> None:
    assert attribute_by_snapshots(["native"], 12_400, RSS_ONLY, None) == ["unattributed"]


def test_a_measured_heap_series_keeps_the_judged_classes() -> None:
    judged = [*RSS_ONLY, "app_heap"]
    assert attribute_by_snapshots(["native"], 12_400, judged, 12_000) == ["native"]
    assert attribute_by_snapshots(["resources:fds"], None, RSS_ONLY, None) == ["resources:fds"]
