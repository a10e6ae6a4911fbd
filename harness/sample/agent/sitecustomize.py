"""leak-harness heap agent, injected on PYTHONPATH into Python targets (no code change needed).

With LEAK_HARNESS_HEAP_DIR set, on SIGUSR2 it reads <dir>/request: `gc` collects the garbage
(all generations, then malloc_trim, as the bundled service's GC endpoint does) and writes
what it did to <dir>/gc.json, so the harness can ask any Python target for a collection,
memory endpoints or not; `start` starts tracemalloc (LEAK_HARNESS_TRACEMALLOC frames,
default 5) and writes <dir>/tracing; any other name dumps a snapshot to
<dir>/<name>.tracemalloc (through a temporary name, so the harness never reads half a file).
Tracing starts only when asked, after boot: the startup memory the harness measures is the
service's own, not tracemalloc's. A snapshot's objects (several MiB, freed after the dump)
would stay in glibc's heap and lift RSS by a step at every snapshot, which the verdict would
read as growth; the agent gives them back with malloc_trim. Standard library only: the
target's environment is not ours."""

from __future__ import annotations

import os

_DIR = os.environ.get("LEAK_HARNESS_HEAP_DIR")

if _DIR:
    import functools
    import signal
    import tracemalloc
    from collections.abc import Callable

    _FRAMES = int(os.environ.get("LEAK_HARNESS_TRACEMALLOC", "5") or 5)

    @functools.cache
    def _malloc_trim() -> Callable[[int], int] | None:
        """glibc's malloc_trim, looked up once; None elsewhere."""
        try:
            import ctypes

            trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):
            return None
        return trim

    def _collect(directory: str) -> None:
        import gc
        import json
        import time

        started = time.perf_counter()
        collected = gc.collect()
        trim = _malloc_trim()
        released = trim(0) if trim is not None else None
        answer = {
            "objects_collected": collected,
            "malloc_trim_released": released,
            "seconds": round(time.perf_counter() - started, 4),
        }
        part = os.path.join(directory, ".gc.json.part")
        with open(part, "w", encoding="utf-8") as out:
            json.dump(answer, out)
        os.replace(part, os.path.join(directory, "gc.json"))

    def _dump(_signum: int, _frame: object) -> None:
        directory = _DIR or "."
        try:
            with open(os.path.join(directory, "request"), encoding="utf-8") as handle:
                name = os.path.basename(handle.read().strip()) or "snapshot"
            if name == "gc":
                _collect(directory)
                return
            if not tracemalloc.is_tracing():
                tracemalloc.start(_FRAMES)
            if name == "start":
                with open(os.path.join(directory, "tracing"), "w", encoding="utf-8") as flag:
                    flag.write(str(_FRAMES))
                return
            part = os.path.join(directory, f".{name}.part")
            tracemalloc.take_snapshot().dump(part)
            trim = _malloc_trim()
            if trim is not None:
                trim(0)  # the snapshot's freed memory back to the OS
            os.replace(part, os.path.join(directory, f"{name}.tracemalloc"))
        except OSError as exc:  # never take the service down for a snapshot or a collection
            print(f"leak-harness agent: request failed: {exc}", flush=True)

    signal.signal(signal.SIGUSR2, _dump)
