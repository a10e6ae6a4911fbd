from __future__ import annotations

from resume_api.cache import BoundedCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bound_evicts_least_recently_used_and_counts_bytes() -> None:
    cache = BoundedCache("t", max_entries=2, ttl_s=None)
    cache.put("a", b"1" * 10)
    cache.put("b", b"2" * 20)
    assert cache.get("a") == b"1" * 10  # a is now most recent
    cache.put("c", b"3" * 30)
    assert cache.get("b") is None
    assert len(cache) == 2 and cache.bytes == 40 and cache.evictions == 1


def test_ttl_expires_entries() -> None:
    clock = Clock()
    cache = BoundedCache("t", max_entries=10, ttl_s=60, clock=clock)
    cache.put("a", b"x")
    clock.now = 59
    assert cache.get("a") == b"x"
    clock.now = 61
    assert cache.get("a") is None
    assert cache.bytes == 0


def test_pinned_entries_escape_the_bound_until_cleared() -> None:
    cache = BoundedCache("t", max_entries=1, ttl_s=1)
    for i in range(100):
        cache.pin(f"k{i}", b"p" * 100)
        cache.put(f"n{i}", b"n")
    assert len(cache) == 101 and cache.bytes == 100 * 100 + 1
    assert cache.clear() == (101, 10_001)
    assert len(cache) == 0 and cache.bytes == 0


def test_trim_drops_a_fraction() -> None:
    cache = BoundedCache("t", max_entries=None, ttl_s=None)
    for i in range(10):
        cache.put(str(i), b"x")
    assert cache.trim(0.5) == 5
    assert len(cache) == 5 and cache.get("0") is None and cache.get("9") == b"x"
