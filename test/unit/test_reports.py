"""Every per-run report renders from one analysis of a synthetic run directory: verdict.json
matches its schema, junit.xml parses with a JUnit reader and carries the evidence, every plot
has labelled axes with units, and a run that was OOM-killed says so in each format."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from junitparser import Failure, JUnitXml, Skipped
from support.synthetic import synthetic_run

from harness.analyze.analysis import Analysis, analyze, write_verdict
from harness.analyze.checklist import Limits
from harness.analyze.verdict import Rules, load_samples
from harness.report import plots
from harness.report.render import render_reports
from harness.report.schema import VERDICT_SCHEMA


def test_every_format_is_written_and_verdict_json_matches_its_schema(tmp_path: Path) -> None:
    run_dir = synthetic_run(tmp_path, heap_leak=1024.0)
    analysis = analyze(run_dir, Rules())
    write_verdict(run_dir, analysis)
    written = render_reports(run_dir, analysis)
    names = {path.name for path in written}
    assert {"report.html", "summary.md", "junit.xml", "memory.png", "growth.png"} <= names
    document = json.loads((run_dir / "verdict.json").read_text())
    jsonschema.validate(document, VERDICT_SCHEMA)
    assert document["verdict"] == "LEAK"
    page = (run_dir / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len([n for n in names if n.endswith(".png")])
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "LEAK" in (run_dir / "summary.md").read_text()


def test_a_schema_violation_is_caught(tmp_path: Path) -> None:
    analysis = analyze(synthetic_run(tmp_path), Rules())
    document = analysis.to_json()
    document["verdict"] = "PROBABLY FINE"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, VERDICT_SCHEMA)


def test_junit_has_the_verdict_and_each_checklist_item(tmp_path: Path) -> None:
    run_dir = synthetic_run(tmp_path, heap_leak=1024.0)
    analysis = analyze(run_dir, Rules())
    render_reports(run_dir, analysis)
    suite = next(iter(JUnitXml.fromfile(str(run_dir / "junit.xml"))))
    cases = {case.name: case for case in suite}
    assert len(cases) == 1 + len(analysis.checklist)
    verdict_case = cases["memory leak verdict: LEAK"]
    failure = verdict_case.result[0]
    assert isinstance(failure, Failure) and "B/request" in (failure.text or "")
    for item in analysis.checklist:
        results = cases[item.name].result
        expected = {"PASS": [], "FAIL": [Failure], "SKIP": [Skipped]}[item.status]
        assert [type(r) for r in results] == expected, item
    assert int(suite.failures) == sum(1 for c in cases.values() if isinstance(_first(c), Failure))


def _first(case: object) -> object:
    results = getattr(case, "result", [])
    return results[0] if results else None


def test_every_plot_has_labelled_axes_with_units(tmp_path: Path) -> None:
    run_dir = synthetic_run(tmp_path, heap_leak=1024.0)
    analysis = analyze(run_dir, Rules())
    rows = load_samples(run_dir)
    figures = [
        plots.memory_over_time(rows, Limits(), "completed"),
        plots.memory_against_requests(analysis, rows),
        plots.resources_over_time(rows, "completed"),
        plots.latency(run_dir, 1000.0),
    ]
    for figure in figures:
        assert figure is not None
        for axes in figure.axes:
            if not axes.has_data():
                continue
            # a twin axis shares its x axis (and label) with the axes it was made from
            siblings = axes.get_shared_x_axes().get_siblings(axes)
            x_label = " ".join(sibling.get_xlabel() for sibling in siblings).strip()
            title = figure.axes[0].get_title(loc="left") or figure.axes[0].get_title()
            assert x_label and axes.get_ylabel(), f"unlabelled axis in {title!r}"
        units = " ".join(a.get_xlabel() + a.get_ylabel() for a in figure.axes)
        assert any(u in units for u in ("MiB", "seconds", "minutes", "ms", "requests", "count"))


def test_an_oom_killed_run_says_so_in_every_format(tmp_path: Path) -> None:
    run_dir = synthetic_run(tmp_path, outcome="oom-killed")
    analysis = analyze(run_dir, Rules())
    render_reports(run_dir, analysis)
    assert "ended early: oom-killed" in (run_dir / "report.html").read_text()
    assert "oom-killed" in (run_dir / "summary.md").read_text()
    suite = next(iter(JUnitXml.fromfile(str(run_dir / "junit.xml"))))
    assert any(case.name == "run completed" and case.result for case in suite)
    memory = plots.memory_over_time(load_samples(run_dir), Limits(), "oom-killed")
    assert memory is not None
    assert any("oom-killed" in text.get_text() for text in memory.axes[0].texts)


@pytest.mark.parametrize("heap_leak", [0.0, 4096.0])
def test_verdict_json_reads_back_into_the_same_analysis(tmp_path: Path, heap_leak: float) -> None:
    analysis = analyze(synthetic_run(tmp_path, heap_leak=heap_leak), Rules())
    document = json.loads(json.dumps(analysis.to_json()))  # as verdict.json stores it
    again = Analysis.from_json(document)
    assert json.loads(json.dumps(again.to_json())) == document
    assert again.verdict == analysis.verdict
    assert again.passed == analysis.passed
