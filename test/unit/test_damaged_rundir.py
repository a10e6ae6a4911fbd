"""`leak-harness analyze` on damaged or unusual run directories: each gives one line that
says what is wrong (exit 2), or is judged with a warning that counts what was skipped, and
never a traceback. The stored run (test/data/pre17-quick-run) is copied and damaged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.rundir import Skipped, read_events, read_samples

STORED = Path(__file__).parent.parent / "data" / "pre17-quick-run"
PROG = "leak-harness analyze"


def _stored(tmp_path: Path) -> Path:
    """A copy of the stored run without its verdict, and without its alert-rule file (a path
    on the machine it ran on, which would FAIL the checklist): undamaged, it is INCONCLUSIVE."""
    run_dir = tmp_path / "run"
    shutil.copytree(STORED, run_dir)
    (run_dir / "verdict.json").unlink()
    meta = json.loads((run_dir / "run.json").read_text())
    meta["target"].pop("alert_rules", None)
    (run_dir / "run.json").write_text(json.dumps(meta))
    return run_dir


def _analyze(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["analyze", str(run_dir), "--no-report", "--no-history"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.splitlines()


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_the_undamaged_copy_is_inconclusive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _analyze(_stored(tmp_path), capsys)
    assert (code, err) == (4, [])


def test_no_samples_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = _stored(tmp_path)
    (run_dir / "samples.csv").unlink()
    code, err = _analyze(run_dir, capsys)
    assert code == 2
    assert err == [
        f"{PROG}: no samples.csv in {run_dir}: not a run directory, or the run never started"
    ]


def test_truncated_run_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = _stored(tmp_path)
    path = run_dir / "run.json"
    path.write_text(path.read_text()[:500])
    code, err = _analyze(run_dir, capsys)
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith(f"{PROG}: run.json is truncated or not JSON: {path}: ")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("[1, 2]", "run.json is not a JSON object: {path}"),
        ('{"outcome": "done"}', "run.json: 'outcome' is not an object: {path}"),
        (
            '{"scenario": {"thresholds": {"peak_mb": "lots"}}}',
            "run.json: scenario.thresholds.peak_mb is not a number: {path}",
        ),
    ],
)
def test_a_run_json_of_the_wrong_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, says: str
) -> None:
    run_dir = _stored(tmp_path)
    path = run_dir / "run.json"
    path.write_text(content)
    code, err = _analyze(run_dir, capsys)
    assert (code, err) == (2, [f"{PROG}: {says.format(path=path)}"])


def test_a_samples_csv_without_its_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _stored(tmp_path)
    (run_dir / "samples.csv").write_text("a,b\n1,2\n")
    code, err = _analyze(run_dir, capsys)
    assert code == 2
    assert err == [
        f"{PROG}: samples.csv has no columns time, requests: not a samples.csv the harness "
        f"wrote: {run_dir / 'samples.csv'}"
    ]


def test_no_events_jsonl_is_judged_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _stored(tmp_path)
    (run_dir / "events.jsonl").unlink()
    code, err = _analyze(run_dir, capsys)
    warning = (
        f"no events.jsonl in {run_dir}: judged without events (phase marks, cleanup answers, "
        "heap snapshot times, endpoint checks unknown)"
    )
    assert (code, err) == (4, [f"{PROG}: {warning}"])
    assert warning in json.loads((run_dir / "verdict.json").read_text())["notes"]


def test_a_non_numeric_cell_is_skipped_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Today's code met 'abc' deep in the statistics (a traceback); the reader skips the row."""
    run_dir = _stored(tmp_path)
    path = run_dir / "samples.csv"
    lines = _lines(path)
    header = lines[0].strip().split(",")
    for number in (100, 120, 121):  # file lines, in the load phase
        cells = lines[number - 1].rstrip("\r\n").split(",")
        assert cells[header.index("phase")] == "load-1"
        cells[header.index("rss")] = "abc" if number == 100 else "inf"
        lines[number - 1] = ",".join(cells) + "\r\n"
    path.write_text("".join(lines))
    code, err = _analyze(run_dir, capsys)
    warning = (
        "skipped 3 rows of samples.csv with non-numeric cells (first: line 100, column rss='abc')"
    )
    assert (code, err) == (4, [f"{PROG}: {warning}"])
    assert warning in json.loads((run_dir / "verdict.json").read_text())["notes"]


def test_an_event_line_that_is_not_an_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _stored(tmp_path)
    path = run_dir / "events.jsonl"
    lines = _lines(path)
    lines.insert(3, "42\n")
    path.write_text("".join(lines))
    code, err = _analyze(run_dir, capsys)
    warning = "skipped 1 line of events.jsonl that is not a JSON object (first: line 4)"
    assert (code, err) == (4, [f"{PROG}: {warning}"])
    assert warning in json.loads((run_dir / "verdict.json").read_text())["notes"]


def test_half_written_last_lines_are_a_note_not_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A killed run stops mid-write: its last lines are cut. They are skipped and noted in
    verdict.json, and stderr stays quiet (every killed run has them)."""
    run_dir = _stored(tmp_path)
    for name, keep in (("samples.csv", 30), ("events.jsonl", 20)):
        path = run_dir / name
        text = path.read_text()
        path.write_text(text + text.splitlines()[-1][:keep])  # a copy of the last line, cut
    code, err = _analyze(run_dir, capsys)
    assert (code, err) == (4, [])
    notes = json.loads((run_dir / "verdict.json").read_text())["notes"]
    for name in ("samples.csv", "events.jsonl"):
        assert (
            f"skipped the half-written last line of {name} (the run was stopped mid-write)" in notes
        )


def test_the_reader_counts_each_kind_of_damage(tmp_path: Path) -> None:
    (tmp_path / "samples.csv").write_text(
        "time,elapsed_s,phase,requests,users,rss\r\n"
        "1,0,load-1,0,8,100\r\n"
        "2,1,load-1,10,8\r\n"  # a cell short
        "3,2,load-1,12.5,8,100\r\n"  # requests are whole numbers
        "4,3,load-1,,8,100\r\n"  # no request count
        "\r\n"
        "5,4,load-1,20,8,\r\n"  # rss not measured: fine
    )
    skipped: list[Skipped] = []
    rows = read_samples(tmp_path, skipped.append)
    assert [row["time"] for row in rows] == ["1", "5"]
    assert rows[0]["working_set"] == ""  # a column the file lacks reads as not measured
    assert [s.message for s in skipped] == [
        "skipped 1 row of samples.csv with the wrong number of cells (first: line 3)",
        "skipped 2 rows of samples.csv with non-numeric cells "
        "(first: line 4, column requests='12.5')",
    ]
    (tmp_path / "events.jsonl").write_text(
        '{"time": 1, "event": "phase"}\nnot json\n[1]\n"x"\n{"time": 2}\n'
        '{"time": "soon", "event": "phase"}\n{"time": 3, "event": "run-end"}\n'
    )
    skipped.clear()
    assert [e["time"] for e in read_events(tmp_path, skipped.append)] == [1, 3]
    assert [s.message for s in skipped] == [
        "skipped 1 line of events.jsonl that is not JSON (first: line 2)",
        "skipped 2 lines of events.jsonl that are not JSON objects (first: line 3)",
        "skipped 2 lines of events.jsonl that are not events (no event name, or a non-numeric "
        "time) (first: line 5)",
    ]
    assert not any(s.expected for s in skipped)


def test_every_report_states_what_was_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _stored(tmp_path)
    with (run_dir / "events.jsonl").open("a") as handle:
        handle.write("42\n")
    code = main(["analyze", str(run_dir), "--no-history"])
    out = capsys.readouterr().out
    warning = "skipped 1 line of events.jsonl that is not a JSON object (first: line 19)"
    assert code == 4
    assert f"note: {warning}" in out  # the terminal
    assert warning in (run_dir / "summary.md").read_text()
    assert warning in (run_dir / "report.html").read_text()
    assert warning in json.loads((run_dir / "verdict.json").read_text())["notes"]
