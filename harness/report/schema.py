"""The documented schema of verdict.json (JSON Schema, draft 2020-12), for tools that read
it: CI scripts, dashboards, the history store. `schema_version` changes only when a field
changes meaning or goes away; new fields may be added within a version."""

from __future__ import annotations

from typing import Any

from harness.analyze.analysis import SCHEMA_VERSION

_NUMBER_OR_NULL: dict[str, Any] = {"type": ["number", "null"]}
_STRING_OR_NULL: dict[str, Any] = {"type": ["string", "null"]}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


TREND = _object(
    {
        "n": {"type": "integer", "description": "samples in the judged window"},
        "slope": {"type": "number", "description": "Theil-Sen growth per request"},
        "low": {"type": "number", "description": "95% interval, low end"},
        "high": {"type": "number", "description": "95% interval, high end"},
        "z": {"type": "number", "description": "slope over its standard error under AR(1) noise"},
        "n_effective": {"type": "number"},
        "second_half_slope": {"type": "number"},
        "second_half_low": {"type": "number"},
        "second_half_high": {"type": "number"},
        "step": {"type": "boolean", "description": "a single jump explains the series"},
        "detectable": {"type": "number", "description": "smallest slope detectable (80% power)"},
        "total_growth": {"type": "number", "description": "slope times requests in the window"},
    }
)

STACK_SITE = _object(
    {
        "site": {"type": "string", "description": "innermost Python frame, file:line (function)"},
        "bytes": {"type": "integer"},
        "allocations": {"type": "integer"},
        "frames": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Python and native frames, innermost first",
        },
        "bytes_per_request": _NUMBER_OR_NULL,
    }
)

MEMRAY = _object(
    {
        "capture": {"type": "string", "description": "relative to the run directory"},
        "capture_bytes": {"type": "integer"},
        "flamegraph": _STRING_OR_NULL,
        "python_allocator": {"type": "string"},
        "native_traces": {"type": "boolean"},
        "peak_bytes": {"type": "integer"},
        "allocations": {"type": "integer"},
        "held_bytes": {"type": "integer", "description": "still allocated at exit"},
        "held_noise_bytes": {"type": "integer", "description": "of which imports, profilers"},
        "leaks": {"type": "array", "items": STACK_SITE},
        "peak": {"type": "array", "items": STACK_SITE},
        "note": {"type": "string"},
        "children": {"type": "array", "items": {"type": "string"}},
        "version": {"type": "integer"},
    }
)

_ENV = {"type": "object", "additionalProperties": {"type": "string"}}
GROWTH = _object(
    {
        "run": {"type": "string", "description": "run directory, relative to the diagnosed run"},
        "allocator": {"type": "string", "description": "glibc defaults, or the setting's name"},
        "env": _ENV,
        "status": {"type": "string"},
        "requests": {"type": "integer", "description": "in the judged window"},
        "series": {
            "type": "object",
            "additionalProperties": TREND,
            "description": "container_anon, rss, app_malloc, app_heap: growth per request",
        },
        "released_at_cleanup": {
            "type": "object",
            "additionalProperties": {"type": "number"},
            "description": "bytes each series came down in the cleanup (GC, malloc_trim)",
        },
    }
)
ALLOCATOR = _object(
    {
        "decision": {
            "enum": ["native-leak", "allocator-retention", "not-applicable", "inconclusive"]
        },
        "reason": {"type": "string"},
        "resident_series": _STRING_OR_NULL,
        "threshold_bytes_per_request": {"type": "number"},
        "before": GROWTH,
        "tried": {
            "type": "array",
            "items": _object(
                {
                    "setting": {"type": "string"},
                    "description": {"type": "string"},
                    "env": _ENV,
                    "outcome": {"enum": ["gone", "persists", "reduced", "not run"]},
                    "reason": {"type": "string"},
                    "growth": {"oneOf": [{"type": "null"}, GROWTH]},
                    "changes": {
                        "type": "array",
                        "items": _object(
                            {
                                "series": {"type": "string"},
                                "before": {"type": "number"},
                                "after": {"type": "number"},
                                "difference": {"type": "number", "description": "before - after"},
                                "low": {"type": "number", "description": "95% interval"},
                                "high": {"type": "number"},
                            }
                        ),
                    },
                }
            ),
        },
        "skipped": {
            "type": "array",
            "items": _object({"setting": {"type": "string"}, "reason": {"type": "string"}}),
        },
        "version": {"type": "integer"},
    }
)

#: present only where it applies: `memray` in runs profiled with memray, `allocator` in runs
#: diagnosed with allocator reruns (allocator.json)
#: absent from verdict.json files written before they existed
OPTIONAL = (
    "memray",
    "allocator",
    "limit_bytes_per_request",
    "limit_question",
    "limit_ruled_out",
)

PROPERTIES: dict[str, Any] = {
    "schema_version": {"const": SCHEMA_VERSION},
    "run": _object(
        {
            "id": {"type": "string"},
            "scenario": {"type": "string"},
            "status": {
                "enum": [
                    "completed",
                    "interrupted",
                    "oom-killed",
                    "target-exited",
                    "error",
                    "running",
                ]
            },
            "started_at": _STRING_OR_NULL,
            "duration_s": _NUMBER_OR_NULL,
            "backend": _STRING_OR_NULL,
            "memory_limit_bytes": {"type": ["integer", "null"]},
            "memory_limit_enforced": {"type": ["boolean", "null"]},
            "leaks": {"type": "array", "items": {"type": "string"}},
            "git_commit": _STRING_OR_NULL,
            "git_branch": _STRING_OR_NULL,
            "harness_version": _STRING_OR_NULL,
            "stopped": {
                **_STRING_OR_NULL,
                "description": "a run that may stop once decided: how long it ran and why",
            },
        },
        required=[
            "id",
            "scenario",
            "status",
            "started_at",
            "duration_s",
            "backend",
            "memory_limit_bytes",
            "memory_limit_enforced",
            "leaks",
            "git_commit",
            "git_branch",
            "harness_version",
        ],
    ),
    "verdict": {"enum": ["LEAK", "NO LEAK", "INCONCLUSIVE"]},
    "reason": {"type": "string"},
    "classes": {
        "type": "array",
        "items": {"type": "string"},
        "description": "python-heap, native, container-only, unattributed, resources:<series>",
    },
    "deciding_series": _STRING_OR_NULL,
    "bytes_per_request": _NUMBER_OR_NULL,
    "interval": {
        "oneOf": [
            {"type": "null"},
            {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
        ]
    },
    "detectable_bytes_per_request": _NUMBER_OR_NULL,
    "growth_mb_per_hour": _NUMBER_OR_NULL,
    "hours_to_limit": _NUMBER_OR_NULL,
    "requests_measured": {"type": "integer", "minimum": 0},
    "series": {
        "type": "array",
        "items": _object(
            {
                "name": {"type": "string"},
                "label": {"type": "string"},
                "unit": {"type": "string"},
                "leaking": {"type": "boolean"},
                "reason": {"type": "string"},
                "trend": {"oneOf": [{"type": "null"}, TREND]},
                "judged": {"type": "boolean", "description": "counts toward the verdict"},
                "kept_bytes_per_request": {
                    **_NUMBER_OR_NULL,
                    "description": "of a memory series that grew: what it still held per "
                    "request once the load stopped and the garbage was collected",
                },
            },
            required=["name", "label", "unit", "leaking", "reason", "trend"],
        ),
    },
    "rules": {"type": "object", "additionalProperties": {"type": ["number", "boolean"]}},
    "limit_bytes_per_request": {
        **_NUMBER_OR_NULL,
        "description": "the leak that reaches the container limit within "
        "rules.time_to_limit_h at rules.production_rps",
    },
    "limit_question": {**_STRING_OR_NULL, "description": "that leak's size, said in a sentence"},
    "limit_ruled_out": {
        **_STRING_OR_NULL,
        "description": "of a NO LEAK or INCONCLUSIVE run: how far the limit is at least",
    },
    "figures": _object(
        {
            "startup_bytes": _NUMBER_OR_NULL,
            "peak_bytes": _NUMBER_OR_NULL,
            "requests": {"type": "integer", "minimum": 0},
            "failures": {"type": "integer", "minimum": 0},
            "requests_per_s": _NUMBER_OR_NULL,
        }
    ),
    "suspects": {
        "type": "array",
        "items": _object(
            {
                "site": {"type": "string", "description": "file:line, innermost frame"},
                "traceback": {"type": "array", "items": {"type": "string"}},
                "size_growth": {"type": "integer"},
                "count_growth": {"type": "integer"},
                "bytes_per_request": _NUMBER_OR_NULL,
                "grew_every_time": {"type": "boolean"},
            }
        ),
    },
    "suspects_basis": {"type": "string"},
    "checklist": {
        "type": "array",
        "items": _object(
            {
                "name": {"type": "string"},
                "status": {"enum": ["PASS", "FAIL", "SKIP"]},
                "evidence": {"type": "string"},
            }
        ),
    },
    "notes": {"type": "array", "items": {"type": "string"}},
    "memray": MEMRAY,
    "allocator": ALLOCATOR,
}

VERDICT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "leak-harness verdict.json",
    **_object(PROPERTIES, [name for name in PROPERTIES if name not in OPTIONAL]),
}
