"""junit.xml for CI systems: one test case for the verdict, one per checklist item. A LEAK
and a FAIL are failures carrying their evidence; an INCONCLUSIVE verdict and a SKIP are
skipped (with why), so a dashboard never shows a run that could not see a leak as passed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.analyze.analysis import Analysis
from harness.analyze.verdict import INCONCLUSIVE, LEAK

JUNIT_XML = "junit.xml"


def _case(suite: ET.Element, name: str, classname: str, status: str, message: str) -> None:
    case = ET.SubElement(suite, "testcase", name=name, classname=classname, time="0")
    if status == "failure":
        ET.SubElement(case, "failure", message=message[:500], type="leak-harness").text = message
    elif status == "skipped":
        ET.SubElement(case, "skipped", message=message[:500])
    else:
        ET.SubElement(case, "system-out").text = message


def render_junit(run_dir: Path, analysis: Analysis) -> Path:
    run, verdict = analysis.run, analysis.verdict
    suite_name = f"leak-harness.{run.scenario}"
    root = ET.Element("testsuites", name="leak-harness")
    suite = ET.SubElement(
        root, "testsuite", name=suite_name, timestamp=run.started_at or "", hostname="localhost"
    )
    detail = verdict.reason
    if verdict.bytes_per_request is not None and verdict.interval is not None:
        low, high = verdict.interval
        detail += (
            f" [{verdict.deciding_series}: {verdict.bytes_per_request:,.0f} B/request, "
            f"95% CI {low:,.0f}..{high:,.0f}, over {verdict.requests_measured:,} requests]"
        )
    outcome = {LEAK: "failure", INCONCLUSIVE: "skipped"}.get(verdict.verdict, "passed")
    _case(suite, f"memory leak verdict: {verdict.verdict}", suite_name, outcome, detail)
    if run.status != "completed":
        _case(suite, "run completed", suite_name, "failure", f"the run ended early: {run.status}")
    for item in analysis.checklist:
        status = {"FAIL": "failure", "SKIP": "skipped"}.get(item.status, "passed")
        _case(suite, item.name, f"{suite_name}.checklist", status, item.evidence)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.set("errors", "0")
    suite.set("time", f"{run.duration_s or 0:.1f}")
    for key in ("tests", "failures", "skipped", "errors", "time"):
        root.set(key, suite.get(key, "0"))
    path = run_dir / JUNIT_XML
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
