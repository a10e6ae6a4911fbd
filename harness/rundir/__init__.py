"""The run directory: the contract between the run and every later stage.

Everything is written as it happens (samples and events flushed line by line, run.json
rewritten atomically), so a run that is interrupted, crashes, or whose target is OOM-killed
can still be analyzed up to that moment. `layout` names its files and the samples' columns,
`writer` writes one as the run goes, `reader` reads one back (each file parsed in one place)."""

from __future__ import annotations

from harness.redaction import redact
from harness.rundir.layout import (
    CAPTURE,
    EVENTS_JSONL,
    HEAP_DIR,
    LOCUST_PREFIX,
    MEMRAY_DIR,
    RUN_JSON,
    SAMPLE_FIELDS,
    SAMPLES_CSV,
    TARGET_LOG,
    Sample,
    capture_path,
    profiled_run,
)
from harness.rundir.reader import OnSkip, SampleRow, Skipped, read_events, read_meta, read_samples
from harness.rundir.writer import SCRUB_MAX_BYTES, RunDirectory

__all__ = [
    "CAPTURE",
    "EVENTS_JSONL",
    "HEAP_DIR",
    "LOCUST_PREFIX",
    "MEMRAY_DIR",
    "RUN_JSON",
    "SAMPLES_CSV",
    "SAMPLE_FIELDS",
    "SCRUB_MAX_BYTES",
    "TARGET_LOG",
    "OnSkip",
    "RunDirectory",
    "Sample",
    "SampleRow",
    "Skipped",
    "capture_path",
    "profiled_run",
    "read_events",
    "read_meta",
    "read_samples",
    "redact",
]
