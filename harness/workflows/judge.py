"""The one way to judge a run directory: analyze it, write verdict.json, append it to the
history, render its reports. `analyze`, `run --analyze` and the allocator check all come here,
so a run is judged the same whichever command asked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.analyze.analysis import Analysis, analyze, write_verdict
from harness.analyze.verdict import Rules
from harness.analyze.window import failed_run, unjudged
from harness.exit_codes import ExitCode
from harness.history.store import History, HistoryError, history_path_for
from harness.rundir import read_meta, read_samples


@dataclass(frozen=True)
class Judged:
    """A run's analysis and where its report landed (None: not rendered, or it failed).
    `infrastructure`: why there was nothing to judge when the run's machinery failed (it
    errored before its load, or recorded no sample), else None."""

    analysis: Analysis
    report: Path | None
    infrastructure: str | None = None

    def exit_code(self, inconclusive_ok: bool = False) -> ExitCode:
        """3 when the run's machinery failed before there was anything to judge (first: every
        checklist item was judged on nothing, and `run` itself exited 3), 1 for a LEAK or a
        checklist FAIL, 4 for INCONCLUSIVE (unless it is ok), else 0."""
        if self.infrastructure is not None:
            return ExitCode.INFRA
        if not self.analysis.passed:
            return ExitCode.FAIL
        if self.analysis.inconclusive and not inconclusive_ok:
            return ExitCode.INCONCLUSIVE
        return ExitCode.OK


def _ignore(message: str) -> None:
    pass


def judge_run(
    run_dir: Path,
    rules: Rules,
    *,
    report: bool = True,
    history: bool = True,
    warn: Callable[[str], None] = _ignore,
) -> Judged:
    """Judge `run_dir` with `rules`. A report or a history that cannot be written costs a
    warning, never the verdict: verdict.json is written first."""
    draw = None
    if report:
        from harness.report.flamegraph import render_flamegraph

        draw = render_flamegraph
    analysis = analyze(run_dir, rules, draw, warn)
    write_verdict(run_dir, analysis)
    if history:
        _append_history(run_dir, analysis, warn)
    meta = read_meta(run_dir)
    early = unjudged(read_samples(run_dir), meta)
    return Judged(
        analysis,
        _render(run_dir, analysis, warn) if report else None,
        early.reason if early is not None and early.infrastructure else failed_run(meta),
    )


def _render(run_dir: Path, analysis: Analysis, warn: Callable[[str], None]) -> Path | None:
    from harness.report.render import render_reports  # matplotlib: only when drawing

    try:
        return render_reports(run_dir, analysis)[0]
    except Exception as exc:  # the verdict stands even when a plot cannot be drawn
        warn(f"reports not rendered: {exc!r}")
        return None


def _append_history(run_dir: Path, analysis: Analysis, warn: Callable[[str], None]) -> None:
    """Runs under <out>/runs/<id> join <out>/history.sqlite (nightly runs trend on their own)."""
    path = history_path_for(run_dir)
    if path is not None:
        try:
            History(path).record(analysis.to_json(), run_dir)
        except (HistoryError, OSError) as exc:
            warn(f"history not updated: {exc}")
