"""The run history keeps one row per run (re-analysis replaces it), upgrades old files in
order and refuses newer ones, survives two writers at once, and filters by scenario, branch
and kind."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.history import store as history_module
from harness.history.store import (
    SCHEMA_VERSION,
    History,
    HistoryError,
    history_path_for,
    row_from_analysis,
)


def analysis(
    run_id: str,
    *,
    verdict: str = "NO LEAK",
    rate: float = 3.0,
    scenario: str = "quick",
    branch: str | None = "main",
    started_at: str | None = None,
) -> dict[str, Any]:
    """The parts of a verdict.json the history reads."""
    return {
        "schema_version": 1,
        "run": {
            "id": run_id,
            "scenario": scenario,
            "status": "completed",
            "started_at": started_at or f"2026-01-01T00:00:{len(run_id) % 60:02d}.000+00:00",
            "git_branch": branch,
            "leaks": ["telemetry-buffer:1KiB"] if verdict == "LEAK" else [],
        },
        "verdict": verdict,
        "reason": "test",
        "deciding_series": "container_anon",
        "bytes_per_request": rate,
        "interval": [rate - 10, rate + 10],
        "rules": {"leak_bytes_per_request": 256.0},
        "figures": {
            "startup_bytes": 100.0,
            "peak_bytes": 200.0,
            "requests": 1000,
            "failures": 0,
            "requests_per_s": 30.0,
        },
        "checklist": [{"status": "PASS"}, {"status": "FAIL"}, {"status": "SKIP"}],
    }


def count(path: Path, table: str = "runs") -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_record_then_re_record_replaces_the_row(tmp_path: Path) -> None:
    history = History(tmp_path / "history.sqlite")
    history.record(analysis("a", rate=3.0), tmp_path / "a")
    history.record(analysis("b"), tmp_path / "b")
    history.record(analysis("a", verdict="LEAK", rate=900.0), tmp_path / "a")
    rows = {row.id: row for row in history.runs()}
    assert set(rows) == {"a", "b"} and count(history.path) == 2
    assert rows["a"].verdict == "LEAK" and rows["a"].bytes_per_request == 900.0
    assert rows["a"].leaks == ("telemetry-buffer:1KiB",)
    assert (rows["a"].interval_low, rows["a"].interval_high) == (890.0, 910.0)
    assert (rows["a"].checklist_pass, rows["a"].checklist_fail, rows["a"].checklist_skip) == (
        1,
        1,
        1,
    )


def test_a_signoff_of_the_same_run_is_its_own_row(tmp_path: Path) -> None:
    history = History(tmp_path / "history.sqlite")
    history.record(analysis("a"), tmp_path / "a")
    history.record(analysis("a"), tmp_path / "a", kind="signoff", version="1.2.0")
    assert [r.kind for r in history.runs()] == ["run"]
    assert [r.version for r in history.runs(kind="signoff")] == ["1.2.0"]
    assert len(history.runs(kind=None)) == 2
    with pytest.raises(HistoryError, match="unknown history kind"):
        history.record(analysis("a"), tmp_path / "a", kind="nightly")


def test_runs_filter_order_and_limit(tmp_path: Path) -> None:
    history = History(tmp_path / "history.sqlite")
    stamps = ["2026-01-03", "2026-01-01", "2026-01-02", "2026-01-04"]
    for number, day in enumerate(stamps):
        branch = "main" if number % 2 == 0 else "feature"
        history.record(
            analysis(f"r{number}", branch=branch, started_at=f"{day}T00:00:00+00:00"),
            tmp_path / f"r{number}",
        )
    history.record(analysis("other", scenario="soak"), tmp_path / "other")
    assert [r.id for r in history.runs(scenario="quick")] == ["r1", "r2", "r0", "r3"]
    assert [r.id for r in history.runs(scenario="quick", branch="main")] == ["r2", "r0"]
    assert [r.id for r in history.runs(scenario="quick", limit=2)] == ["r0", "r3"]
    assert [r.id for r in history.runs(scenario="soak")] == ["other"]
    assert history.runs(scenario="nope") == []


def test_reading_a_missing_history_creates_nothing(tmp_path: Path) -> None:
    history = History(tmp_path / "none" / "history.sqlite")
    assert history.runs() == [] and not history.exists
    assert not (tmp_path / "none").exists()


def test_a_new_file_is_at_the_current_schema_version(tmp_path: Path) -> None:
    history = History(tmp_path / "history.sqlite")
    history.record(analysis("a"), tmp_path / "a")
    with sqlite3.connect(history.path) as connection:
        versions = [v for (v,) in connection.execute("SELECT version FROM schema_version")]
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    assert mode == "wal"


def test_an_old_file_is_migrated_in_order_and_keeps_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = History(tmp_path / "history.sqlite")
    history.record(analysis("a"), tmp_path / "a")
    added = "ALTER TABLE runs ADD COLUMN note TEXT DEFAULT 'migrated'"
    monkeypatch.setattr(history_module, "MIGRATIONS", (*history_module.MIGRATIONS, added))
    monkeypatch.setattr(history_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    assert [r.id for r in history.runs()] == ["a"]  # opening migrates
    history.record(analysis("b"), tmp_path / "b")
    with sqlite3.connect(history.path) as connection:
        notes = [n for (n,) in connection.execute("SELECT note FROM runs ORDER BY id")]
        latest = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    assert notes == ["migrated", "migrated"] and latest == SCHEMA_VERSION + 1


def test_a_file_from_a_newer_harness_is_refused(tmp_path: Path) -> None:
    history = History(tmp_path / "history.sqlite")
    history.record(analysis("a"), tmp_path / "a")
    with sqlite3.connect(history.path) as connection:
        connection.execute("INSERT INTO schema_version VALUES (?, 'later')", (SCHEMA_VERSION + 1,))
    with pytest.raises(HistoryError, match="newer than this harness"):
        history.runs()


def test_a_file_that_is_not_a_database_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    path.write_text("not sqlite at all, but long enough to have a header " * 4)
    with pytest.raises(HistoryError, match="history"):
        History(path).runs()


# Writers are threads in a fresh interpreter: other unit tests import Locust, whose gevent
# patches turn threads into greenlets, and one blocking SQLite call would stop them all.
WRITERS = """
import sqlite3, sys, threading
from pathlib import Path
from harness.history.store import History

root = Path(sys.argv[1])
problems = []


def document(run_id):
    return {"run": {"id": run_id, "scenario": "s", "status": "completed"}, "verdict": "NO LEAK"}


def race(trial):
    # two first writers of a new file race to create it, then interleave
    path = root / f"history-{trial}.sqlite"
    start = threading.Barrier(2)

    def write(prefix):
        history = History(path)
        start.wait()
        try:
            for number in range(2):
                history.record(document(f"{prefix}{number}"), root)
        except Exception as exc:
            problems.append(f"trial {trial}: {exc}")

    writers = [threading.Thread(target=write, args=(p,)) for p in "xy"]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    if len(History(path).runs()) != 4:
        problems.append(f"trial {trial}: {len(History(path).runs())} runs, not 4")


def wait_for_lock():
    # a writer waits while another process holds the write lock, then gets in
    path = root / "held.sqlite"
    History(path).record(document("first"), root)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    done = threading.Event()

    def write():
        try:
            History(path).record(document("second"), root)
        except Exception as exc:
            problems.append(f"held lock: {exc}")
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    if done.wait(0.5):
        problems.append("held lock: the writer did not wait")
    holder.execute("COMMIT")
    holder.close()
    writer.join(10)
    if {r.id for r in History(path).runs()} != {"first", "second"}:
        problems.append("held lock: a run is missing")


for trial in range(int(sys.argv[2])):
    race(trial)
wait_for_lock()
print("\\n".join(problems))
"""


def test_concurrent_writers_lose_nothing_and_wait_for_the_lock(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", WRITERS, str(tmp_path), "100"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_history_path_for_runs_under_out_runs_only(tmp_path: Path) -> None:
    run_dir = tmp_path / "reports" / "runs" / "20260101-000000-quick"
    run_dir.mkdir(parents=True)
    assert history_path_for(run_dir) == (tmp_path / "reports" / "history.sqlite").resolve()
    elsewhere = tmp_path / "kept" / "20260101-000000-quick"
    elsewhere.mkdir(parents=True)
    assert history_path_for(elsewhere) is None


def test_a_document_that_is_not_an_analysis_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="not an analysis"):
        row_from_analysis({"verdict": "LEAK"}, tmp_path)
    with pytest.raises(HistoryError, match="not an analysis"):
        row_from_analysis({"run": {"id": "a"}}, tmp_path)


def test_runs_are_compared_on_their_fastest_judged_memory_series(tmp_path: Path) -> None:
    """The deciding series changes with the verdict (anon+shm for a NO LEAK); the history's
    leak rate is the fastest judged memory series, never an unjudged or resource series."""

    def series(
        name: str, slope: float, unit: str = "B/request", reason: str = "", **flag: bool
    ) -> Any:
        trend = {"slope": slope, "low": slope - 50, "high": slope + 50}
        return {"name": name, "unit": unit, "reason": reason, "trend": trend, **flag}

    analysis = {
        "run": {"id": "r1", "scenario": "quick", "status": "completed"},
        "verdict": "NO LEAK",
        "bytes_per_request": 0.0,
        "interval": [-5.0, 3.0],
        "series": [
            series("container_anon", 0.0),
            series("app_malloc", 240.0),
            series("rss", 1200.0, reason="holds memray's own memory", judged=False),
            # a verdict.json from before the `judged` flag: only its reason says so
            series("working_set", 900.0, reason="shown, not judged: page cache drifts"),
            series("fds", 5000.0, unit="per request"),
        ],
    }
    row = row_from_analysis(analysis, tmp_path)
    assert (row.bytes_per_request, row.interval_low, row.interval_high) == (240.0, 190.0, 290.0)
