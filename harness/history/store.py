"""The run history: one row per analyzed run, so trends across runs (leak rate, peak, startup,
throughput) can be drawn and regressions flagged (`leak-harness trend`).

Why SQLite (stdlib `sqlite3`, one file `reports/history.sqlite`):
- nothing to install: no pandas/pyarrow in a harness that runs in small CI images;
- concurrent appends are safe: nightly jobs and developers analyze at the same time; WAL mode
  lets readers go on while one writer appends, a busy timeout makes a second writer wait
  instead of failing, and writes take the lock up front (BEGIN IMMEDIATE) so they never
  deadlock on an upgrade;
- anyone can query it without this package: `sqlite3 reports/history.sqlite "select ..."`;
- re-analysis replaces a run's row (upsert on the run id and kind), so the history holds
  today's verdict of each run, never duplicates.
WAL needs a local file system (not NFS); keep the file next to the runs.

The schema is versioned in `schema_version`; MIGRATIONS[i] takes a file from version i to
i + 1, applied in order on open. Add a migration, never edit an applied one."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import UsageError

HISTORY_FILE = "history.sqlite"
BUSY_TIMEOUT_S = 30.0
KINDS = ("run", "signoff")

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the runs table
    """
    CREATE TABLE runs (
        id TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'run' CHECK (kind IN ('run', 'signoff')),
        version TEXT,                       -- the release signed off (kind 'signoff')
        run_dir TEXT NOT NULL,
        started_at TEXT,                    -- ISO 8601, UTC
        scenario TEXT NOT NULL,
        branch TEXT,
        git_commit TEXT,
        backend TEXT,
        leaks TEXT NOT NULL DEFAULT '',     -- leak switches on, comma-separated
        status TEXT NOT NULL,               -- completed, oom-killed, interrupted, ...
        verdict TEXT NOT NULL,              -- LEAK, NO LEAK, INCONCLUSIVE
        reason TEXT,
        deciding_series TEXT,
        bytes_per_request REAL,             -- growth of the fastest judged memory series
        interval_low REAL,                  -- its 95% interval
        interval_high REAL,
        detectable_bytes_per_request REAL,  -- smallest leak the run could detect
        leak_threshold REAL,                -- rules.leak_bytes_per_request
        growth_mb_per_hour REAL,
        startup_bytes REAL,
        peak_bytes REAL,
        requests INTEGER,
        requests_per_s REAL,
        failures INTEGER,
        checklist_pass INTEGER NOT NULL DEFAULT 0,
        checklist_fail INTEGER NOT NULL DEFAULT 0,
        checklist_skip INTEGER NOT NULL DEFAULT 0,
        verdict_schema INTEGER,             -- verdict.json's schema_version
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (id, kind)
    );
    CREATE INDEX runs_by_group ON runs (scenario, branch, started_at);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class HistoryError(UsageError, ValueError):
    """The history file or a record cannot be used (said in one line)."""


@dataclass(frozen=True)
class HistoryRow:
    """One analyzed run as the history keeps it (sizes in bytes, rates per request)."""

    id: str
    kind: str
    version: str | None
    run_dir: str
    started_at: str | None
    scenario: str
    branch: str | None
    git_commit: str | None
    backend: str | None
    leaks: tuple[str, ...]
    status: str
    verdict: str
    reason: str | None
    deciding_series: str | None
    bytes_per_request: float | None
    interval_low: float | None
    interval_high: float | None
    detectable_bytes_per_request: float | None
    leak_threshold: float | None
    growth_mb_per_hour: float | None
    startup_bytes: float | None
    peak_bytes: float | None
    requests: int | None
    requests_per_s: float | None
    failures: int | None
    checklist_pass: int
    checklist_fail: int
    checklist_skip: int
    verdict_schema: int | None
    recorded_at: str


COLUMNS = tuple(f.name for f in fields(HistoryRow))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def fastest_memory_growth(analysis_json: Mapping[str, Any]) -> tuple[float, float, float] | None:
    """(slope, low, high) of the judged memory series that grew fastest. The deciding series
    differs between verdicts (anon+shm for a NO LEAK, malloc in use for an INCONCLUSIVE, the
    Python heap for a LEAK), so runs are compared on this one figure, not on that series."""
    found = []
    for series in analysis_json.get("series") or []:
        trend = series.get("trend") or {}
        # verdict.json files written before the `judged` flag say so only in the reason
        counted = series.get("judged", "not judged" not in str(series.get("reason")))
        judged = series.get("unit") == "B/request" and bool(counted)
        values = [_number(trend.get(k)) for k in ("slope", "low", "high")]
        if judged and all(v is not None for v in values):
            found.append((float(values[0] or 0), float(values[1] or 0), float(values[2] or 0)))
    return max(found) if found else None


def row_from_analysis(
    analysis_json: Mapping[str, Any], run_dir: Path, kind: str = "run", version: str | None = None
) -> HistoryRow:
    """The history row of one verdict.json (an `Analysis.to_json()`)."""
    if kind not in KINDS:
        raise HistoryError(f"unknown history kind {kind!r} (one of {', '.join(KINDS)})")
    run = analysis_json.get("run")
    verdict = analysis_json.get("verdict")
    if not isinstance(run, Mapping) or not run.get("id") or not isinstance(verdict, str):
        raise HistoryError(f"{run_dir}: not an analysis (no run id or verdict); re-run analyze")
    figures = analysis_json.get("figures") or {}
    interval = analysis_json.get("interval") or (None, None)
    fastest = fastest_memory_growth(analysis_json)
    if fastest is not None:
        interval = fastest[1:]
    rules = analysis_json.get("rules") or {}
    statuses = [str(item.get("status")) for item in analysis_json.get("checklist") or []]
    requests = figures.get("requests")
    failures = figures.get("failures")
    return HistoryRow(
        id=str(run["id"]),
        kind=kind,
        version=version,
        run_dir=str(run_dir),
        started_at=run.get("started_at"),
        scenario=str(run.get("scenario") or "?"),
        branch=run.get("git_branch"),
        git_commit=run.get("git_commit"),
        backend=run.get("backend"),
        leaks=tuple(str(leak) for leak in run.get("leaks") or ()),
        status=str(run.get("status") or "?"),
        verdict=verdict,
        reason=analysis_json.get("reason"),
        deciding_series=analysis_json.get("deciding_series"),
        bytes_per_request=(
            fastest[0] if fastest else _number(analysis_json.get("bytes_per_request"))
        ),
        interval_low=_number(interval[0]),
        interval_high=_number(interval[1]),
        detectable_bytes_per_request=_number(analysis_json.get("detectable_bytes_per_request")),
        leak_threshold=_number(rules.get("leak_bytes_per_request")),
        growth_mb_per_hour=_number(analysis_json.get("growth_mb_per_hour")),
        startup_bytes=_number(figures.get("startup_bytes")),
        peak_bytes=_number(figures.get("peak_bytes")),
        requests=int(requests) if isinstance(requests, int) else None,
        requests_per_s=_number(figures.get("requests_per_s")),
        failures=int(failures) if isinstance(failures, int) else None,
        checklist_pass=statuses.count("PASS"),
        checklist_fail=statuses.count("FAIL"),
        checklist_skip=statuses.count("SKIP"),
        verdict_schema=analysis_json.get("schema_version"),
        recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


class History:
    """The history file at `path`. Reading a file that does not exist gives no runs and
    creates nothing; the first `record` creates it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def exists(self) -> bool:
        return self.path.is_file()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot open the history {self.path}: {exc}") from exc
        with closing(connection):
            try:
                self._use_wal(connection)
                self._migrate(connection)
                yield connection
            except sqlite3.DatabaseError as exc:
                raise HistoryError(f"history {self.path}: {exc}") from exc

    @staticmethod
    def _use_wal(connection: sqlite3.Connection) -> None:
        """Switch a new file to WAL. The switch takes an exclusive lock and SQLite does not
        wait for it on the busy timeout: two first writers at once would see "database is
        locked", so the loser retries until the winner has switched the file."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _migrate(self, connection: sqlite3.Connection) -> None:
        """Bring the file to SCHEMA_VERSION, under the write lock (two first writers at
        once: the second waits, then finds the work done)."""
        if self._version(connection) == SCHEMA_VERSION:
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER NOT NULL, applied_at TEXT NOT NULL)"
            )
            current = self._version(connection)
            if current > SCHEMA_VERSION:
                raise HistoryError(
                    f"history {self.path} has schema v{current}, newer than this harness "
                    f"knows (v{SCHEMA_VERSION}); upgrade leak-harness"
                )
            for version in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(
                    "INSERT INTO schema_version VALUES (?, ?)",
                    (version + 1, datetime.now(UTC).isoformat(timespec="seconds")),
                )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    @staticmethod
    def _version(connection: sqlite3.Connection) -> int:
        known = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if not known:
            return 0
        found = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(found[0] or 0)

    def record(
        self,
        analysis_json: Mapping[str, Any],
        run_dir: Path,
        kind: str = "run",
        version: str | None = None,
    ) -> HistoryRow:
        """Add one analyzed run, or replace its row when it was recorded before."""
        row = row_from_analysis(analysis_json, run_dir, kind, version)
        values = {name: getattr(row, name) for name in COLUMNS}
        values["leaks"] = ",".join(row.leaks)
        names = ", ".join(COLUMNS)
        marks = ", ".join(f":{name}" for name in COLUMNS)
        updates = ", ".join(f"{n} = excluded.{n}" for n in COLUMNS if n not in ("id", "kind"))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                f"INSERT INTO runs ({names}) VALUES ({marks}) "
                f"ON CONFLICT (id, kind) DO UPDATE SET {updates}",
                values,
            )
            connection.execute("COMMIT")
        return row

    def runs(
        self,
        scenario: str | None = None,
        branch: str | None = None,
        limit: int | None = None,
        kind: str | None = "run",
    ) -> list[HistoryRow]:
        """Recorded runs, oldest first; `limit` keeps the newest ones."""
        if not self.exists:
            return []
        where, params = [], []
        for column, value in (("scenario", scenario), ("branch", branch), ("kind", kind)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        query = f"SELECT {', '.join(COLUMNS)} FROM runs"
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY COALESCE(started_at, recorded_at) DESC, id DESC"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        with self._connect() as connection:
            found = connection.execute(query, params).fetchall()
        rows = []
        for values in reversed(found):
            record = dict(zip(COLUMNS, values, strict=True))
            record["leaks"] = tuple(part for part in str(record["leaks"]).split(",") if part)
            rows.append(HistoryRow(**record))
        return rows


def history_path_for(run_dir: Path) -> Path | None:
    """Where `analyze` appends a run: `<out>/history.sqlite` for a run directory at
    `<out>/runs/<id>`; None for a run directory kept anywhere else."""
    run_dir = run_dir.resolve()
    if run_dir.parent.name != "runs":
        return None
    return run_dir.parent.parent / HISTORY_FILE
