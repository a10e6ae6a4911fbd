"""The series a run records and its reports judge and show: one table of each series' column
in samples.csv, its label, unit, kind and plot colour, so that every report names and draws a
series the same way."""

from __future__ import annotations

from dataclasses import dataclass

MEMORY, RESOURCE = "memory", "resource"
BYTES, COUNT = "bytes", "count"
#: bytes the target holds, as memray counts them (a profiled run's heap.csv, see analyze/memray)
HEAP_SERIES = "memray_heap"


@dataclass(frozen=True)
class Series:
    column: str  # as in samples.csv (and rundir.Sample)
    label: str
    unit: str  # BYTES or COUNT
    kind: str  # MEMORY or RESOURCE
    colour: str  # in the plots


#: memory first, in the verdict's order of preference: the container's anon + shmem decides
#: before the working set, which also holds active page cache that drifts as the kernel ages it
#: and would hide small leaks
SERIES: dict[str, Series] = {
    s.column: s
    for s in (
        # a run profiled with memray: what the target holds as memray counts it (every malloc
        # and mmap); memray's own bookkeeping lives in the same process and grows with the run,
        # so in such a run it is judged instead of the process and container series it inflates
        Series(HEAP_SERIES, "heap (memray)", BYTES, MEMORY, "#e377c2"),
        Series("container_anon", "container anon+shm", BYTES, MEMORY, "#17becf"),
        # tmpfs/shm on its own: no allocator moves it, so a spill there is plain even when the
        # process's anonymous memory steps down in the same window and hides it in anon+shm
        Series("shmem", "container shm/tmpfs", BYTES, MEMORY, "#9467bd"),
        Series("working_set", "container working set", BYTES, MEMORY, "#1f77b4"),
        Series("rss", "process RSS", BYTES, MEMORY, "#ff7f0e"),
        Series("app_heap", "Python heap", BYTES, MEMORY, "#2ca02c"),
        Series("app_malloc", "malloc in use", BYTES, MEMORY, "#8c564b"),
        Series("fds", "open fds", COUNT, RESOURCE, "#9467bd"),
        Series("sockets", "sockets", COUNT, RESOURCE, "#9467bd"),
        Series("threads", "threads", COUNT, RESOURCE, "#9467bd"),
        Series("app_tasks", "asyncio tasks", COUNT, RESOURCE, "#9467bd"),
    )
}
#: column -> label, in the table's order
MEMORY_SERIES = {name: s.label for name, s in SERIES.items() if s.kind == MEMORY}
RESOURCE_SERIES = {name: s.label for name, s in SERIES.items() if s.kind == RESOURCE}
