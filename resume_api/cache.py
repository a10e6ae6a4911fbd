"""A TTL + LRU cache that knows how many bytes it holds, so memory endpoints can report it."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Entry:
    value: bytes
    expires_at: float


class BoundedCache:
    """Values are bytes. Pinned entries escape eviction and expiry: that is the unbounded-cache
    leak, whose entries stay until the cache is cleared."""

    def __init__(
        self,
        name: str,
        max_entries: int | None,
        ttl_s: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._pinned: dict[str, bytes] = {}
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries) + len(self._pinned)

    def pin(self, key: str, value: bytes) -> None:
        self._pinned[key] = value
        self.bytes += len(value)

    def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        if entry.expires_at <= self._clock():
            self._drop(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.value

    def put(self, key: str, value: bytes) -> None:
        if key in self._entries:
            self._drop(key)
        expires = self._clock() + self.ttl_s if self.ttl_s is not None else float("inf")
        self._entries[key] = _Entry(value, expires)
        self.bytes += len(value)
        while self.max_entries is not None and len(self._entries) > self.max_entries:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            self.evictions += 1

    def purge_expired(self) -> int:
        now = self._clock()
        expired = [key for key, entry in self._entries.items() if entry.expires_at <= now]
        for key in expired:
            self._drop(key)
        return len(expired)

    def trim(self, fraction: float) -> int:
        """Drop the least recently used ``fraction`` of entries (memory pressure)."""
        count = int(len(self._entries) * fraction)
        for key in list(self._entries)[:count]:
            self._drop(key)
        return count

    def clear(self) -> tuple[int, int]:
        entries, size = len(self), self.bytes
        self._entries.clear()
        self._pinned.clear()
        self.bytes = 0
        return entries, size

    def stats(self) -> dict[str, int | float | None]:
        return {
            "entries": len(self),
            "bytes": self.bytes,
            "max_entries": self.max_entries,
            "ttl_seconds": self.ttl_s,
            "hits": self.hits,
            "misses": self.misses,
            "evictions": self.evictions,
        }

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self.bytes -= len(entry.value)
