"""Scenario files for tests that need a whole run but only a few seconds of each phase."""

from __future__ import annotations

from pathlib import Path

TINY = """
description = "test: a few seconds of each phase"
shape = "steady"
users = 4
spawn_rate = 4
warmup_s = 3
duration_s = {duration}
cleanup_s = 1
sample_interval_s = 0.5
tracemalloc_frames = 1
"""


def tiny_scenario(path: Path, duration_s: float = 6) -> Path:
    """A steady scenario at `path`: 3 s warm-up, `duration_s` of load, 1 s cleanup."""
    path.write_text(TINY.format(duration=duration_s))
    return path
