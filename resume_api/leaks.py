"""Leak switches: the service's known leak patterns, each switchable on at a chosen rate.

Syntax of ``RESUME_API_LEAKS``: a comma-separated list of ``name`` or ``name:rate``, where rate
is bytes per API request as an integer with an optional ``B``, ``K``/``KiB`` or ``M``/``MiB``
suffix (``unbounded-cache:1KiB,native-malloc:256``). A name alone leaks 4 KiB per request.

Every API request adds its rate to a per-switch debt (`LeakInjector.tick`). The code path the
switch names calls `LeakInjector.take`, which leaks one unit of the pattern (a client, a task, a
cache entry...) once the debt covers that unit's own cost, padded with the rest of the debt. So
the long-run leak is the configured bytes per request even when one unit costs more than that.
"""

from __future__ import annotations

import ctypes
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from resume_api.retention import AllocatorRetention

DEFAULT_BYTES_PER_REQUEST = 4096

#: name -> (where it shows, approximate bytes one leaked unit costs before its padding)
LEAKS: Mapping[str, tuple[str, int]] = MappingProxyType(
    {
        # measured: one AsyncAzureOpenAI costs ~840 KiB of RSS (its SSL context and CA store,
        # native) and ~7 KiB of Python heap, plus a socket once it has made a request
        "unclosed-http-client": ("open sockets/fds and RSS (native SSL contexts)", 840 * 1024),
        "task-accumulation": ("asyncio tasks and Python heap", 1536),
        "telemetry-buffer": ("Python heap", 700),
        "unbounded-cache": ("Python heap (embedding cache entries)", 300),
        "latency-by-raw-path": ("Python heap (latency series per raw URL)", 600),
        "shm-spill": ("container memory only (tmpfs under /dev/shm)", 0),
        "native-malloc": ("native memory (RSS, invisible to tracemalloc)", 0),
        # not a leak: RSS grows, the bytes in use stay bounded (resume_api/retention.py)
        "allocator-retention": ("RSS only: glibc keeps freed scratch buffers (bounded)", 0),
        # the blob storage patterns (resume_api/storage.py); costs measured on Azurite
        # aiohttp closes a pooled connection idle for 15 s: the clients stay, their sockets not
        "blob-client-per-request": ("Python heap (a client, session and pool each)", 64 << 10),
        "credential-per-request": ("Python heap (a credential per request, kept)", 1024),
        "sas-client-per-call": ("Python heap (a blob client per SAS URL, never closed)", 32 << 10),
        "unclosed-download-stream": ("Python heap (abandoned downloads and their chunk)", 64 << 10),
        "unbounded-upload-buffer": ("Python heap (whole uploads buffered and kept)", 0),
    }
)

_RATE = re.compile(r"^\s*(\d+)\s*(b|k|kb|kib|m|mb|mib)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1 << 20, "mb": 1 << 20}
_UNITS["mib"] = 1 << 20


class LeakSpecError(ValueError):
    """RESUME_API_LEAKS names an unknown switch or a rate that is not a size."""


@dataclass(frozen=True)
class LeakSpec:
    """Which switches are on, and each one's rate in bytes per API request."""

    rates: Mapping[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.rates)

    def __str__(self) -> str:
        return ",".join(f"{name}:{rate}" for name, rate in self.rates.items())


def parse_leaks(text: str) -> LeakSpec:
    rates: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, rate_text = item.partition(":")
        name = name.strip()
        if name not in LEAKS:
            raise LeakSpecError(
                f"RESUME_API_LEAKS: unknown leak switch {name!r}; known: {', '.join(LEAKS)}"
            )
        rate = DEFAULT_BYTES_PER_REQUEST
        if rate_text:
            match = _RATE.match(rate_text)
            if match is None:
                raise LeakSpecError(
                    f"RESUME_API_LEAKS: rate {rate_text!r} for {name} is not a size "
                    "in bytes per request (e.g. 256, 4K, 1MiB)"
                )
            rate = int(match.group(1)) * _UNITS[(match.group(2) or "").lower()]
        if rate <= 0:
            raise LeakSpecError(f"RESUME_API_LEAKS: rate for {name} must be positive")
        rates[name] = rate
    return LeakSpec(MappingProxyType(rates))


def ballast(size: int) -> bytes:
    """Bytes that really occupy memory: non-zero, so no page stays lazily unmapped."""
    return b"\x5a" * size


class NativeLeak:
    """Blocks from the C allocator, never freed. The blocks form a linked list in native memory,
    so the Python heap does not grow with them: only RSS and the container see this leak.

    The blocks come from libc's strndup, which calls malloc through libc's own PLT, as a C
    extension's allocations do. A malloc resolved by ctypes (dlsym) is called directly and
    bypasses the PLT hooks memray tracks allocations with: memray would not see this leak."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None)
        self._strndup = libc.strndup
        self._strndup.restype = ctypes.c_void_p
        self._strndup.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        self._head = 0
        self.blocks = 0
        self.bytes = 0

    def leak(self, size: int) -> None:
        size = max(size, ctypes.sizeof(ctypes.c_void_p) + 1)
        # size - 1 non-zero bytes and strndup's terminating NUL: every page is touched
        block = self._strndup(ballast(size - 1), size - 1)
        if not block:
            raise MemoryError(f"strndup of {size} bytes failed")
        ctypes.c_void_p.from_address(block).value = self._head or None
        self._head = block
        self.blocks += 1
        self.bytes += size


class ShmSpill:
    """Request bodies appended to a file under /dev/shm, never truncated. tmpfs pages are
    charged to the container's memory cgroup but belong to no process's RSS."""

    def __init__(self, directory: str | None = None) -> None:
        base = Path(directory or os.environ.get("RESUME_API_SHM_DIR") or "/dev/shm")
        if not base.is_dir():
            base = Path(tempfile.gettempdir())
        self.path = base / f"resume_api-{os.getpid()}.spill"
        self.bytes = 0

    def spill(self, data: bytes) -> None:
        with self.path.open("ab") as spill_file:
            spill_file.write(data)
        self.bytes += len(data)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class LeakInjector:
    """Holds each switch's debt, and the native and tmpfs leaks that have no Python owner."""

    def __init__(self, spec: LeakSpec) -> None:
        self.spec = spec
        self._debt = dict.fromkeys(spec.rates, 0)
        self.units = dict.fromkeys(spec.rates, 0)
        self.native = NativeLeak() if "native-malloc" in spec.rates else None
        self.shm = ShmSpill() if "shm-spill" in spec.rates else None
        self.retention = AllocatorRetention() if "allocator-retention" in spec.rates else None

    def enabled(self, name: str) -> bool:
        return name in self._debt

    def tick(self) -> None:
        """One API request was served: every switch owes its rate once more."""
        for name, rate in self.spec.rates.items():
            self._debt[name] += rate

    def take(self, name: str) -> int | None:
        """Leak due on this code path now? Returns the padding in bytes, or None."""
        debt = self._debt.get(name)
        if debt is None:
            return None
        cost = LEAKS[name][1]
        if debt < max(cost, 1):
            return None
        self._debt[name] = 0
        self.units[name] += 1
        return debt - cost

    def stats(self) -> dict[str, object]:
        return {
            "enabled": dict(self.spec.rates),
            "units_leaked": dict(self.units),
            "native_bytes": self.native.bytes if self.native else 0,
            "shm_bytes": self.shm.bytes if self.shm else 0,
            "retention": self.retention.stats() if self.retention else None,
        }

    def close(self) -> None:
        """Graceful shutdown removes the tmpfs file and stops the retention worker; the native
        blocks go with the process."""
        if self.shm is not None:
            self.shm.remove()
        if self.retention is not None:
            self.retention.close()
