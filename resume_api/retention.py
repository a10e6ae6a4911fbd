"""The `allocator-retention` switch: RSS that grows per request while the bytes in use stay
bounded. It is not a leak: glibc keeps memory the service has freed and cannot give it back.
It gives the harness's allocator diagnosis a known case to tell apart from a true native leak
(`native-malloc`), the way teams meet it: "RSS climbs, the Python heap is flat".

The pattern is a C library with a worker thread: it renders each result into a 256 KiB
scratch buffer (every page written), shrinks the buffer to fit its 24-byte result with realloc
once the next buffer is allocated, and keeps the results in a bounded ring (the oldest is freed
past 2048). realloc shrinks in place: the result stays at the buffer's head and the rest
becomes a free chunk between two live results. Under glibc's default settings:

- the worker thread allocates in its own arena, where no other code reuses the holes;
- a hole (256 KiB minus the result) can never hold the next 256 KiB buffer, so each buffer
  extends the arena; free() gives back only an arena's top, and the holes' pages stay resident;
- 256 KiB is over glibc's initial mmap threshold (128 KiB), but freeing one large mapped block
  raises that threshold (it is dynamic, up to 32 MiB): the worker frees a 4 MiB buffer first,
  as a service does the first time it frees a large response, and its buffers then come from
  the arena.

So RSS grows by the configured rate while malloc's bytes in use stay flat (the ring's results
and one buffer, ~300 KiB). Bounded: once the ring is full, each result it drops joins two
holes into one the next buffer fits in, and RSS levels off near 2048 x 256 KiB = 512 MiB.

What gives it back (measured in a standalone run of the pattern, 20,000 requests at 4 KiB):
malloc_trim(0), which the service's GC endpoint calls, returns the holes' pages (77 of 80 MiB);
MALLOC_MMAP_THRESHOLD_=131072 (fixed, which turns the dynamic threshold off) puts each buffer in
its own mapping, shrunk to one page by realloc: ~60 instead of 4,096 B/request, bounded by the
ring. MALLOC_ARENA_MAX=2 alone does not help here: the worker's arena is one of the two.

The worker calls malloc and realloc resolved by ctypes (dlsym): memray does not see them."""

from __future__ import annotations

import ctypes
import queue
import threading
from collections import deque

SCRATCH_BYTES = 256 << 10
RESULT_BYTES = 24
RING = 2048
#: freed once at start: over the initial mmap threshold, so glibc raises the threshold to it
RAISE_THRESHOLD_BYTES = 4 << 20


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.realloc.restype = ctypes.c_void_p
    libc.realloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.free.restype = None
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.restype = ctypes.c_void_p
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    return libc


class AllocatorRetention:
    """Scratch buffers shrunk to fit in a worker thread. `add` (the request path) never blocks:
    it hands whole buffers' worth of bytes to the worker."""

    def __init__(self, scratch_bytes: int = SCRATCH_BYTES, ring: int = RING) -> None:
        self.scratch_bytes = scratch_bytes
        self.ring = ring
        self.buffers = 0  # rendered by the worker
        self.failed = 0  # malloc returned NULL (the container is out of memory)
        self._libc = _libc()
        self._balance = 0
        self._submitted = 0
        self._jobs: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._results: deque[int] = deque()
        self._done = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="allocator-retention", daemon=True)
        self._thread.start()

    @property
    def kept(self) -> int:
        return len(self._results)

    def add(self, size: int) -> None:
        """`size` more bytes of scratch are due; whole buffers go to the worker."""
        self._balance += size
        due, self._balance = divmod(self._balance, self.scratch_bytes)
        if due:
            self._submitted += due
            self._jobs.put(due)

    def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until the worker has rendered every buffer submitted so far (tests)."""
        with self._done:
            return self._done.wait_for(
                lambda: self.buffers + self.failed >= self._submitted, timeout_s
            )

    def _work(self) -> None:
        libc = self._libc
        libc.free(libc.malloc(RAISE_THRESHOLD_BYTES))
        pending: int | None = None
        while (due := self._jobs.get()) is not None:
            for _ in range(due):
                buffer = libc.malloc(self.scratch_bytes)
                if buffer:
                    libc.memset(buffer, 0x5A, self.scratch_bytes)  # every page resident
                    if pending is not None:
                        self._keep(libc.realloc(pending, RESULT_BYTES))
                    pending = buffer
                with self._done:
                    if buffer:
                        self.buffers += 1
                    else:
                        self.failed += 1
                    self._done.notify_all()
        for address in [*self._results, pending]:
            libc.free(address)
        self._results.clear()

    def _keep(self, result: int | None) -> None:
        self._results.append(result or 0)
        if len(self._results) > self.ring:
            self._libc.free(self._results.popleft())

    def stats(self) -> dict[str, int]:
        return {
            "buffers": self.buffers,
            "results_kept": self.kept,
            "in_use_bytes": self.kept * RESULT_BYTES + (self.scratch_bytes if self.buffers else 0),
        }

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the worker; it frees what it kept."""
        self._jobs.put(None)
        self._thread.join(timeout_s)
