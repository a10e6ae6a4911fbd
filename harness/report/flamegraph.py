"""The leaks flamegraph of a run profiled with memray: <run>/memray/leaks-flamegraph.html.

Drawn from the records harness.analyze.memray reads (it hands them to `render_flamegraph` as
its `Draw`, so the capture is read once). A report read without drawing (a run that ended
before its stacks were read, analyzed afterwards) gets its flamegraph from `draw_missing`,
when the reports are rendered."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.analyze.memray import MemrayReport, Stacked, build, undrawn


def render_flamegraph(reader: Any, records: Sequence[Stacked], output: Path) -> str | None:
    """memray's leaks flamegraph (what `memray flamegraph --leaks --no-web` draws: it opens
    offline) of `records`, into `output`; None when it worked, else why not. Drawn through
    memray's reporter rather than its command: the command stops at the first stack memray
    cannot merge, and draws the import system too (tens of MiB of page for a web service)."""
    try:
        from memray.reporters.flamegraph import FlameGraphReporter

        reporter = FlameGraphReporter.from_snapshot(
            records,  # type: ignore[arg-type]  # duck-typed AllocationRecords
            memory_records=tuple(reader.get_memory_snapshots()),
            native_traces=reader.metadata.has_native_traces,
        )
        with output.open("w", encoding="utf-8") as handle:
            reporter.render(
                handle,
                reader.metadata,
                show_memory_leaks=True,
                merge_threads=True,
                inverted=False,
                no_web=True,
            )
    except Exception as exc:  # the reporter is not memray's public API: a failure is a note
        output.unlink(missing_ok=True)
        return f"no flamegraph: memray's reporter failed ({type(exc).__name__}: {exc})"
    return None


def draw_missing(run_dir: Path, report: MemrayReport) -> MemrayReport:
    """`report`, or, when its stacks were read without drawing, the capture read again with
    the flamegraph drawn (stacks.json rewritten); a capture that cannot be read keeps it."""
    if not undrawn(report):
        return report
    try:
        return build(run_dir, render_flamegraph) or report
    except (OSError, ValueError, RuntimeError, TypeError, AssertionError):
        return report
