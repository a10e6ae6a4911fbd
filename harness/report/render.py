"""Render every per-run report from one Analysis: plots, report.html, summary.md, junit.xml
(verdict.json is written by the analysis itself)."""

from __future__ import annotations

from pathlib import Path

from harness.analyze.analysis import Analysis
from harness.analyze.checklist import limits_for
from harness.analyze.verdict import load_samples
from harness.report.flamegraph import draw_missing
from harness.report.html import render_html
from harness.report.junit import render_junit
from harness.report.markdown import render_markdown
from harness.report.plots import render_plots
from harness.rundir import read_meta


def render_reports(run_dir: Path, analysis: Analysis) -> list[Path]:
    """The files written, report.html first."""
    if analysis.memray is not None:  # stacks read without drawing: the flamegraph is drawn now
        analysis.memray = draw_missing(run_dir, analysis.memray)
    meta = read_meta(run_dir)
    rows = load_samples(run_dir)
    plots = render_plots(run_dir, analysis, rows, limits_for(meta))
    return [
        render_html(run_dir, analysis, meta, plots),
        render_markdown(run_dir, analysis),
        render_junit(run_dir, analysis),
        *(path for _, path in plots),
    ]
