"""`leak-harness suite --runs` and `leak-harness signoff` on synthetic run directories: the
index links every run's reports, the sign-off is GO only on complete evidence, compares with
the previous signed-off release from the history, and bad input exits 2 in one line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from support.synthetic import synthetic_run

from harness.analyze.analysis import analyze, write_verdict
from harness.analyze.verdict import rules_from_run
from harness.cli import main
from harness.history.store import History
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.suite.index import write_index
from harness.suite.runs import SuiteEntry, entry_for_run, new_suite, worst_exit

ROOT = Path(__file__).resolve().parents[2]
ALERT_RULES = ROOT / "resume_api" / "alert_rules.yml"


def judged(tmp: Path, scenario: str = "nightly", complete: bool = True, **kwargs: Any) -> Path:
    """A synthetic run, analyzed, with report.html and summary.md. `complete`: the target
    declared its memory endpoints, GC endpoint and alert rules, so no checklist item SKIPs."""
    run_dir = synthetic_run(tmp, startup_bytes=80 << 20 if complete else None, **kwargs)
    meta = json.loads((run_dir / "run.json").read_text())
    meta["scenario"]["name"] = scenario
    if complete:
        meta["target"] = {
            "memory_endpoints": {"stats": "/api/v1/memory/stats"},
            "alert_rules": str(ALERT_RULES),
        }
        with (run_dir / "events.jsonl").open("a") as events:
            for event in (
                {"event": "monitoring-check", "endpoint": "/api/v1/memory/stats", "valid": True},
                {"event": "cleanup", "action": "gc", "status": 200, "answer": {"data": {}}},
            ):
                events.write(json.dumps(event) + "\n")
    (run_dir / "run.json").write_text(json.dumps(meta))
    analysis = analyze(run_dir, rules_from_run(run_dir))
    write_verdict(run_dir, analysis)
    render_html(run_dir, analysis, meta, [])
    render_markdown(run_dir, analysis)
    return run_dir


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def links(page: Path, pattern: str) -> list[Path]:
    return [page.parent / unquote(found) for found in re.findall(pattern, page.read_text())]


def signoff(
    capsys: pytest.CaptureFixture[str], tmp: Path, version: str, *runs: Path
) -> tuple[int, dict[str, Any], str]:
    code, out, err = cli(
        capsys,
        "signoff",
        "--version",
        version,
        "--runs",
        *runs,
        "--out",
        tmp / "reports",
        "--json",
    )
    return code, json.loads(out) if out.strip() else {}, err


def test_index_lists_every_run_with_working_links(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [judged(tmp_path, "full"), judged(tmp_path, "spike")]
    code, out, err = cli(capsys, "suite", "--runs", *runs, "--out", tmp_path / "out", "--json")
    assert code == 0, err
    suite = json.loads(out)
    index = Path(suite["index"])
    assert index.parent.parent == (tmp_path / "out" / "suites").resolve()
    assert [r["scenario"] for r in suite["runs"]] == ["full", "spike"]
    assert all(r["verdict"] == "NO LEAK" and r["checklist"]["PASS"] == 7 for r in suite["runs"])
    linked = links(index, r"href='([^']+)'")
    for run_dir in runs:
        for name in ("report.html", "summary.md", "verdict.json"):
            assert (run_dir / name).resolve() in [p.resolve() for p in linked], name
    assert all(p.exists() for p in linked), [p for p in linked if not p.exists()]
    md_linked = links(index.parent / "index.md", r"\]\(([^)]+)\)")
    assert len(md_linked) == 6 and all(p.is_file() for p in md_linked)
    page = index.read_text()
    assert "ALL PASS" in page and page.count("<tr>") == 3  # header + one row per run


def test_suite_exit_code_is_the_worst_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [judged(tmp_path, "full"), judged(tmp_path, "spike", heap_leak=1024)]
    code, out, _ = cli(capsys, "suite", "--runs", *runs, "--out", tmp_path / "out", "-q")
    assert code == 1
    index = Path(out.strip().removeprefix("index: "))
    assert "LEAK OR FAIL" in index.read_text()
    assert worst_exit([0, 4]) == 4 and worst_exit([4, 1, 0]) == 1
    assert worst_exit([0, 3, 4]) == 3 and worst_exit([1, 3]) == 1
    assert worst_exit([0, -9]) == 3 and worst_exit([1, 130]) == 130 and worst_exit([]) == 0


def test_an_old_interrupted_run_in_suite_runs_is_inconclusive_not_130(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean, leaking = judged(tmp_path, "full"), judged(tmp_path, "spike", heap_leak=1024)
    for run_dir in (clean, leaking):
        meta = json.loads((run_dir / "run.json").read_text())
        meta["outcome"] = {"status": "interrupted", "exit_code": 130, "signal": "SIGINT"}
        (run_dir / "run.json").write_text(json.dumps(meta))
    code, _, _ = cli(capsys, "suite", "--runs", clean, "--out", tmp_path / "a", "-q")
    assert code == 4  # what it recorded was clean, but an interrupted run vouches for nothing
    code, _, _ = cli(capsys, "suite", "--runs", leaking, "--out", tmp_path / "b", "-q")
    assert code == 1  # a leak it recorded before the Ctrl-C is still a leak


def test_signoff_is_go_on_clean_complete_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [judged(tmp_path, "full"), judged(tmp_path, "spike")]
    code, document, err = signoff(capsys, tmp_path, "1.0.0", *runs)
    assert code == 0, err
    assert document["decision"] == "GO"
    assert "no previous sign-off to compare with" in document["reasons"]
    page = Path(document["page"])
    assert page == (tmp_path / "reports" / "signoff" / "1.0.0" / "signoff.html").resolve()
    html = page.read_text()
    assert ">GO<" in html and "not enough evidence" in html  # the rule is stated
    for run_dir in runs:
        verdict = json.loads((run_dir / "verdict.json").read_text())
        for item in verdict["checklist"]:  # every item of every run, with its evidence
            assert item["name"].replace("<", "&lt;") in html
            assert item["evidence"].replace("<", "&lt;") in html
    assert all(p.is_file() for p in links(page, r"href='([^']+)'"))
    markdown = (page.parent / "signoff.md").read_text()
    assert "**GO**" in markdown and "No previous sign-off" in markdown
    rows = History(tmp_path / "reports" / "history.sqlite").runs(kind="signoff")
    assert sorted(r.run_dir for r in rows) == sorted(str(r) for r in runs)
    assert {r.version for r in rows} == {"1.0.0"}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"heap_leak": 1024}, "LEAK"),
        ({"outcome": "oom-killed"}, "the run did not complete (oom-killed)"),
        ({"outcome": "oom-killed"}, "checklist FAIL: peak memory"),
        ({"complete": False}, "not enough evidence"),
    ],
)
def test_signoff_is_no_go_when_a_run_fails_or_lacks_evidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kwargs: dict[str, Any], expected: str
) -> None:
    runs = [judged(tmp_path, "full"), judged(tmp_path, "spike", **kwargs)]
    code, document, err = signoff(capsys, tmp_path, "2.0.0", *runs)
    assert code == 1, err
    assert document["decision"] == "NO-GO"
    assert any(expected in r and r.startswith("spike") for r in document["reasons"])
    assert not any(r.startswith("full") for r in document["reasons"])
    assert "NO-GO" in Path(document["page"]).read_text()


def test_signoff_compares_with_the_previous_signed_off_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day = "2030-01-0{}T00:00:00+00:00".format
    code, _, err = signoff(capsys, tmp_path, "1.0.0", judged(tmp_path, started_at=day(1)))
    assert code == 0, err
    # 1.0.1 leaked: NO-GO, so it is passed over as the previous release
    code, document, _ = signoff(
        capsys, tmp_path, "1.0.1", judged(tmp_path, started_at=day(2), heap_leak=1024)
    )
    assert code == 1
    assert any("leaks more than in 1.0.0" in r for r in document["reasons"])
    assert document["previous"]["changes"][0]["words"] == "leaks more"

    code, document, err = signoff(capsys, tmp_path, "1.1.0", judged(tmp_path, started_at=day(3)))
    assert code == 0, err
    previous = document["previous"]
    assert previous["version"] == "1.0.0"
    assert [c["words"] for c in previous["changes"]] == ["no difference"]
    assert any("passed over 1.0.1" in n for n in previous["notes"])
    assert "no scenario leaks more than in 1.0.0" in document["reasons"]
    html = Path(document["page"]).read_text()
    assert "Previous signed-off release: <b>1.0.0</b>" in html and "no difference" in html


def test_signoff_from_a_suite_directory_counts_scenarios_that_did_not_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = new_suite(tmp_path / "reports", ["full", "spike", "stress"])
    suite.entries = [entry_for_run(judged(tmp_path, "full"), "full", 0)]
    suite.entries.append(SuiteEntry("spike", 3, error="the run could not start (exit 3)"))
    suite.interrupted = True
    write_index(suite)
    code, out, err = cli(
        capsys, "signoff", "--version", "3.0", "--suite", suite.path, "--out", tmp_path / "reports"
    )
    assert code == 1, err
    assert "sign-off 3.0: NO-GO" in out
    assert "spike: did not run (the run could not start (exit 3))" in out
    assert "stress: did not run (the suite stopped before it)" in out
    page = tmp_path / "reports" / "signoff" / "3.0" / "signoff.html"
    assert "suite index</a>" in page.read_text()
    assert all(p.is_file() for p in links(page, r"href='([^']+)'"))


@pytest.mark.parametrize(
    "args",
    [
        ["signoff", "--version", "1.0 beta", "--runs", "{run}"],
        ["signoff", "--version", "../x", "--runs", "{run}"],
        ["signoff", "--version", "1.0", "--runs", "{tmp}/missing"],
        ["signoff", "--version", "1.0", "--suite", "{tmp}/missing"],
        ["signoff", "--version", "1.0", "--suite", "{run}"],  # a run, not a suite
        ["signoff", "--version", "1.0", "--runs", "{run}", "--scenarios", "quick"],
        ["suite", "--runs", "{tmp}/missing"],
        ["suite", "--runs", "{run}", "{run}"],
        ["suite", "--runs", "{run}", "--leak", "telemetry-buffer"],
        ["suite", "--scenarios", "no-such-scenario"],
        ["suite", "--scenarios", ","],
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    run_dir = judged(tmp_path)
    words = [a.format(run=run_dir, tmp=tmp_path) for a in args]
    code, _out, err = cli(capsys, *words, "--out", tmp_path / "out")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(("leak-harness signoff: ", "leak-harness suite: "))
    assert not (tmp_path / "out" / "signoff").exists()
