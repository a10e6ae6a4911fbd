"""The knee of a stress run: where adding users stopped adding throughput."""

from __future__ import annotations

import itertools
import statistics
from pathlib import Path
from typing import Any

from harness.load.scenario import Stage
from harness.rundir import read_samples

GAIN = 0.05  # a step that adds less than 5% throughput is past the knee


def stage_throughput(run_dir: Path, stages: list[Stage]) -> list[dict[str, Any]]:
    """Requests/s of each load stage, from the samples (its middle 80%, ramps excluded)."""
    rows = read_samples(run_dir)
    result = []
    for stage in stages:
        if not stage.phase.startswith("load"):
            continue
        points = [
            (
                float(row["elapsed_s"]),
                int(row["requests"]),
                float(row["load_cpu_s"] or 0),
                float(row["cpu_s"] or 0),
            )
            for row in rows
            if row["phase"] == stage.phase
        ]
        trim = len(points) // 10
        points = points[trim : len(points) - trim] if len(points) > 4 else points
        if len(points) < 2 or points[-1][0] <= points[0][0]:
            continue
        first, last = points[0], points[-1]
        wall = last[0] - first[0]
        result.append(
            {
                "phase": stage.phase,
                "users": stage.users,
                "rps": round((last[1] - first[1]) / wall, 2),
                "locust_cpu_share": round((last[2] - first[2]) / wall, 3),
                "target_cpu_share": round((last[3] - first[3]) / wall, 3),
            }
        )
    return result


def knee(run_dir: Path, stages: list[Stage]) -> dict[str, Any]:
    steps = stage_throughput(run_dir, stages)
    if not steps:
        return {"steps": [], "knee_users": None, "saturation_rps": None}
    knee_at = len(steps) - 1
    for index, (previous, step) in enumerate(itertools.pairwise(steps)):
        if step["rps"] < previous["rps"] * (1 + GAIN):
            knee_at = index
            break
    # Saturation: the median of the steps from the knee on (single steps are noisy).
    saturated = statistics.median(step["rps"] for step in steps[knee_at:])
    return {
        "steps": steps,
        "knee_users": steps[knee_at]["users"],
        "saturation_rps": round(saturated, 2),
    }
