"""`leak-harness trend` on histories of real analyses of synthetic runs: the run with a leak
switch on is flagged and no clean run is; the exit code follows the newest run only; the
plots, trend.html and --json are written; a missing history, an unknown scenario and bad
options are usage errors. Then the rules of regression.py at their edges."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.synthetic import synthetic_run

from harness import cli
from harness.analyze.checklist import Limits
from harness.history.plots import leak_rate, memory, throughput
from harness.history.regression import (
    LEAK_RATE,
    VERDICT,
    TrendRules,
    change_points,
    group_trend,
    regressions,
)
from harness.history.store import History, HistoryRow, row_from_analysis

MIB = 1 << 20
START = datetime(2026, 1, 1, 2, tzinfo=UTC)


def make_runs(
    out: Path, leaks: list[bool], *, branch: str = "main", history: bool = True, day: int = 1
) -> list[str]:
    """One analyzed synthetic run per entry, a day apart, oldest first; their ids. A leaking
    run has the telemetry-buffer switch on at 1 KiB/request."""
    ids = []
    for number, leaking in enumerate(leaks):
        run_dir = synthetic_run(
            out,
            heap_leak=1024.0 if leaking else 0.0,
            seed=100 + number,
            started_at=f"2026-03-{day + number:02d}T02:00:00.000+00:00",
            branch=branch,
            startup_bytes=(150 + number) * MIB,
        )
        argv = ["analyze", str(run_dir), "--no-report", "--json"]
        code = cli.main([*argv, "--no-history"] if not history else argv)
        assert code == (1 if leaking else 0)
        ids.append(run_dir.name)
    return ids


def trend(out: Path, *options: str) -> int:
    return cli.main(["trend", "--out", str(out), *options])


def trend_json(out: Path, capsys: pytest.CaptureFixture[str], *options: str) -> dict[str, Any]:
    capsys.readouterr()
    trend(out, "--json", *options)
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def flags_by_run(document: dict[str, Any]) -> dict[str, list[str]]:
    return {
        run["id"]: [flag["metric"] for flag in run["flags"]]
        for group in document["groups"]
        for run in group["runs"]
    }


def test_the_newest_run_with_a_leak_switch_on_is_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    ids = make_runs(out, [False] * 5 + [True])
    capsys.readouterr()
    assert trend(out) == 1
    text = capsys.readouterr().out
    assert f"! #6 {ids[-1]}: leak-rate" in text and "newest run FLAGGED" in text
    document = trend_json(out, capsys)
    flags = flags_by_run(document)
    assert set(flags) == set(ids)
    assert set(flags[ids[-1]]) == {LEAK_RATE, VERDICT}
    assert all(flags[run_id] == [] for run_id in ids[:-1])
    assert document["flagged"] == [ids[-1]] and document["newest_flagged"] == [ids[-1]]
    (group,) = document["groups"]
    assert (group["scenario"], group["branch"], group["newest_flagged"]) == (
        "synthetic",
        "main",
        True,
    )
    leak_run = group["runs"][-1]
    assert leak_run["leaks"] == ["telemetry-buffer:1KiB"] and leak_run["verdict"] == "LEAK"
    assert 900 < leak_run["bytes_per_request"] < 1150
    page = Path(document["report"])
    assert page == out / "trend" / "trend.html"
    assert len(group["plots"]) == 3
    for plot in group["plots"]:
        assert Path(plot).read_bytes().startswith(b"\x89PNG")
    html = page.read_text()
    assert html.count("data:image/png;base64,") == 3
    assert ids[-1] in html and "NEWEST RUN FLAGGED" in html and "leak rate 1," in html
    assert "<script" not in html and "http://" not in html and "https://" not in html


def test_a_leak_in_the_middle_is_flagged_and_the_exit_code_follows_the_newest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    ids = make_runs(out, [False, False, False, True, False, False])
    capsys.readouterr()
    assert trend(out) == 0
    document = trend_json(out, capsys)
    flags = flags_by_run(document)
    assert VERDICT in flags[ids[3]] and LEAK_RATE in flags[ids[3]]
    assert [run_id for run_id, found in flags.items() if found] == [ids[3]]
    assert document["newest_flagged"] == []
    assert not document["groups"][0]["newest_flagged"]
    assert "newest run not flagged" in (out / "trend" / "trend.html").read_text()


def test_groups_by_branch_and_the_branch_filter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    make_runs(out, [False] * 5, branch="main")
    feature = make_runs(out, [False] * 4 + [True], branch="feature", day=10)
    document = trend_json(out, capsys)
    assert [(g["branch"], g["newest_flagged"]) for g in document["groups"]] == [
        ("feature", True),  # a group whose newest run is flagged comes first
        ("main", False),
    ]
    assert document["flagged"] == [feature[-1]]
    assert trend(out, "--branch", "main") == 0
    assert trend(out, "--branch", "feature", "--last", "3") == 1
    shown = trend_json(out, capsys, "--branch", "feature", "--last", "3")
    assert [r["id"] for r in shown["groups"][0]["runs"]] == feature[-3:]
    assert len(list((out / "trend").glob("*.png"))) == 3  # the main group's plots are gone


def test_quiet_prints_only_the_flagged_newest_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    ids = make_runs(out, [False] * 4 + [True])
    capsys.readouterr()
    assert trend(out, "-q") == 1
    lines = capsys.readouterr().out.splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("FLAGGED synthetic @ main") and ids[-1] in lines[0]
    )


def test_rebuild_records_runs_analyzed_without_the_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    ids = make_runs(out, [False] * 5 + [True], history=False)
    assert not (out / "history.sqlite").exists()
    broken = out / "runs" / "broken"
    broken.mkdir()
    (broken / "verdict.json").write_text("{not json")
    capsys.readouterr()
    assert trend(out) == 2
    assert trend(out, "--rebuild") == 1
    err = capsys.readouterr().err
    assert "skipped" in err and "broken" in err and "recorded 6 runs, skipped 1" in err
    assert [row.id for row in History(out / "history.sqlite").runs()] == ids
    assert trend(out, "--rebuild") == 1  # again: replaced, not doubled
    assert len(History(out / "history.sqlite").runs()) == 6


def test_no_history_is_a_usage_error_that_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert trend(tmp_path / "reports") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert "no run history" in lines[0] and "leak-harness analyze" in lines[0]
    assert "--rebuild" in lines[0] and "Traceback" not in captured.err
    out = tmp_path / "reports"
    make_runs(out, [False])
    elsewhere = tmp_path / "elsewhere.sqlite"
    capsys.readouterr()
    assert trend(out, "--history", str(elsewhere)) == 2
    assert str(elsewhere) in capsys.readouterr().err and not elsewhere.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--scenario", "nope"], "no runs for scenario 'nope'"),
        (["--last", "0"], "--last must be at least 1"),
        (["--window", "0"], "--window must be at least 1"),
        (["--k", "-1"], "--k must be above 0"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    out = tmp_path / "reports"
    make_runs(out, [False])
    capsys.readouterr()
    assert trend(out, *options) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_history_that_is_not_a_database_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    (out / "history.sqlite").write_text("this is not a database, it is a text file " * 4)
    assert trend(out) == 2
    err = capsys.readouterr().err
    assert "history" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


# ---- the plots ------------------------------------------------------------------------------


def row(number: int, rate: float | None = 0.0, **changes: Any) -> HistoryRow:
    """A completed NO LEAK run, day `number`, with a tight interval around `rate`."""
    document = {
        "run": {
            "id": f"run-{number:03d}",
            "scenario": "s",
            "status": "completed",
            "started_at": (START + timedelta(days=number)).isoformat(),
            "git_branch": "main",
        },
        "verdict": "NO LEAK",
        "deciding_series": "container_anon",
        "bytes_per_request": rate,
        "interval": [rate - 15, rate + 15] if rate is not None else None,
        "rules": {"leak_bytes_per_request": 256.0},
        "figures": {"peak_bytes": 300.0 * MIB, "startup_bytes": 150.0 * MIB, "requests_per_s": 30},
    }
    return replace(row_from_analysis(document, Path("/nowhere")), **changes)


def test_every_trend_plot_has_labelled_axes_with_units() -> None:
    runs = [row(i, random.Random(i).gauss(0, 10)) for i in range(8)]
    runs.append(row(8, 1000.0, verdict="LEAK"))
    group = group_trend(runs, TrendRules())
    assert group.newest_flagged
    for figure in (leak_rate(group), memory(group, Limits()), throughput(group)):
        assert figure is not None
        (axes,) = figure.axes
        assert "run number" in axes.get_xlabel()
        assert axes.get_ylabel().endswith(("(B/request)", "(MiB)", "(requests/s)"))


# ---- regression.py at its edges ----------------------------------------------------------


def test_too_few_runs_before_are_not_judged() -> None:
    rules = TrendRules()
    history = [row(i, 0.0) for i in range(rules.min_baseline - 1)]
    history.append(row(9, 5000.0, verdict="LEAK"))
    assert regressions(history, rules) == {}
    history.insert(0, row(0, 1.0, id="extra"))  # now exactly min_baseline runs before it
    assert set(regressions(history, rules)) == {"run-009"}


def test_a_leak_rate_with_a_wide_interval_is_not_evidence() -> None:
    history = [row(i, 0.0) for i in range(5)]
    history.append(row(5, 600.0, interval_low=-100.0, interval_high=1300.0))
    assert regressions(history, TrendRules()) == {}


def test_an_interrupted_run_is_judged_but_never_a_baseline() -> None:
    history = [row(i, 0.0) for i in range(3)]
    history.append(row(3, 2000.0, status="interrupted", verdict="LEAK"))
    history.append(row(4, 2000.0, verdict="LEAK"))
    found = regressions(history, TrendRules())
    assert set(found) == {"run-003", "run-004"}  # the interrupted run does not set a new normal


def test_a_peak_regression_is_flagged_with_its_reason() -> None:
    history = [row(i, 0.0, peak_bytes=(300 + i) * MIB) for i in range(6)]
    history.append(row(6, 0.0, peak_bytes=400 * MIB))
    ((flag,),) = regressions(history, TrendRules()).values()
    assert flag.metric == "peak" and flag.run_id == "run-006" and "MiB" in flag.reason


def test_a_step_of_twelve_values_is_one_change_point() -> None:
    rng = random.Random(1)
    values = [rng.gauss(0, 20) for _ in range(6)] + [rng.gauss(1000, 20) for _ in range(6)]
    ((index, before, after, confidence),) = change_points(values, 256.0, TrendRules())
    assert index == 6
    assert abs(before) < 50 and abs(after - 1000) < 50 and confidence >= 0.95


def test_a_flat_noisy_series_has_no_change_point() -> None:
    rng = random.Random(2)
    assert change_points([rng.gauss(0, 40) for _ in range(30)], 256.0, TrendRules()) == []
    assert change_points([5.0] * 12, 1.0, TrendRules()) == []


def test_a_change_point_in_a_group_names_the_first_run_of_the_new_level() -> None:
    rng = random.Random(3)
    history = [row(i, rng.gauss(0, 15)) for i in range(6)]
    history += [row(6 + i, rng.gauss(900, 15), verdict="LEAK") for i in range(6)]
    group = group_trend(history, TrendRules())
    assert [(p.metric, p.run_id) for p in group.change_points] == [(LEAK_RATE, "run-006")]
    assert "run-006" in group.flags  # the step itself is also a regression
    assert not group.newest_flagged  # by the last run the new level is the baseline
