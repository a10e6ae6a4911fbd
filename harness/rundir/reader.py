"""Reading a run directory back: each file parsed in one place, what it skipped told."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import RunDirError
from harness.rundir.layout import EVENTS_JSONL, RUN_JSON, SAMPLE_FIELDS, SAMPLES_CSV


def read_meta(run_dir: Path) -> dict[str, Any]:
    """run.json: the one place it is parsed. A missing, truncated or mis-shaped one raises
    RunDirError (one line that names the file), never a traceback further in."""
    path = run_dir / RUN_JSON
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(
            f"no {RUN_JSON} in {run_dir}: not a run directory; give the path of one under "
            "reports/runs/"
        ) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise RunDirError(f"{RUN_JSON} is truncated or not JSON: {path}: {exc}") from None
    if not isinstance(meta, dict):
        raise RunDirError(f"{RUN_JSON} is not a JSON object: {path}")
    for key in _META_OBJECTS:
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise RunDirError(f"{RUN_JSON}: {key!r} is not an object: {path}")
    thresholds = (meta.get("scenario") or {}).get("thresholds") or {}
    if not isinstance(thresholds, dict):
        raise RunDirError(f"{RUN_JSON}: scenario.thresholds is not an object: {path}")
    for name, value in thresholds.items():
        if not _number(value) and (name, value) != ("leak_bytes_per_request", "limit"):
            raise RunDirError(f"{RUN_JSON}: scenario.thresholds.{name} is not a number: {path}")
    return meta


#: run.json's sections the readers index into: each an object when present
_META_OBJECTS = ("outcome", "scenario", "settings", "target", "target_backend", "startup")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Skipped:
    """What a reader left out of a file, said in one line. `expected`: the half-written last
    line of a run stopped mid-write, which every killed run has: a note, not a warning."""

    message: str
    expected: bool = False


#: what a reader tells about the lines it skipped (None: nobody asked)
OnSkip = Callable[[Skipped], None] | None


def _tell(on_skip: OnSkip, skipped: Skipped) -> None:
    if on_skip is not None:
        on_skip(skipped)


def _counted(file: str, why: str, where: list[str]) -> Skipped:
    """'skipped 3 rows of samples.csv <why> (first: <where[0]>)'"""
    noun = "row" if file == SAMPLES_CSV else "line"
    plural = "" if len(where) == 1 else "s"
    return Skipped(f"skipped {len(where)} {noun}{plural} of {file} {why} (first: {where[0]})")


def _half_written(file: str) -> Skipped:
    return Skipped(
        f"skipped the half-written last line of {file} (the run was stopped mid-write)",
        expected=True,
    )


#: one row of samples.csv: every column as written (an empty cell: not measured; a column
#: the file lacks, as an older harness wrote it: empty); every cell of a numeric column
#: parses as a finite number (read_samples checked it)
SampleRow = dict[str, str]

#: the columns a samples.csv must have: without them nothing in it can be placed
_REQUIRED = ("time", "requests")
#: the columns every row must have a value in, when the file has them
_FILLED = ("time", "elapsed_s", "phase", "requests")
#: the columns that are whole numbers (the rest but `phase` are numbers)
_INTEGERS = frozenset({"requests", "failures", "users"})


def _cell_ok(column: str, cell: str) -> bool:
    try:
        value = int(cell) if column in _INTEGERS else float(cell)
    except ValueError:
        return False
    return math.isfinite(value)


def read_samples(run_dir: Path, on_skip: OnSkip = None) -> list[SampleRow]:
    """samples.csv's rows: the one place it is parsed, and checked, so nothing downstream
    meets a cell it cannot read. A row with the wrong number of cells or a non-numeric one is
    skipped and counted (`on_skip` hears it); the half-written last line of a killed run
    (no line end) is skipped as expected. Raises RunDirError when the file is missing or is
    not a samples.csv."""
    path = run_dir / SAMPLES_CSV
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunDirError(
            f"no {SAMPLES_CSV} in {run_dir}: not a run directory, or the run never started"
        ) from None
    except ValueError as exc:
        raise RunDirError(f"{SAMPLES_CSV} is not text: {path}: {exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        records = [(reader.line_num, cells) for cells in reader]
    except csv.Error as exc:
        raise RunDirError(f"{SAMPLES_CSV} is not CSV: {path}: {exc}") from None
    if text and not text.endswith("\n"):  # the writer ends every row: this one was cut
        records.pop()
        _tell(on_skip, _half_written(SAMPLES_CSV))
    if not records:
        return []
    header = records[0][1]
    missing = [column for column in _REQUIRED if column not in header]
    if missing:
        columns = f"column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        raise RunDirError(
            f"{SAMPLES_CSV} has no {columns}: not a samples.csv the harness wrote: {path}"
        )
    numeric = [c for c in header if c in SAMPLE_FIELDS and c != "phase"]
    filled = [c for c in _FILLED if c in header]
    absent = dict.fromkeys((c for c in SAMPLE_FIELDS if c not in header), "")
    rows: list[SampleRow] = []
    ragged: list[str] = []
    bad: list[str] = []
    for line, cells in records[1:]:
        if not cells:
            continue  # a blank line holds no sample
        if len(cells) != len(header):
            ragged.append(f"line {line}")
            continue
        row = {**absent, **dict(zip(header, cells, strict=True))}
        empty = [c for c in filled if not row[c]]
        wrong = empty or [c for c in numeric if row[c] and not _cell_ok(c, row[c])]
        if wrong:
            bad.append(f"line {line}, column {wrong[0]}={row[wrong[0]]!r}")
            continue
        rows.append(row)
    if ragged:
        _tell(on_skip, _counted(SAMPLES_CSV, "with the wrong number of cells", ragged))
    if bad:
        _tell(on_skip, _counted(SAMPLES_CSV, "with non-numeric cells", bad))
    return rows


_NOT_EVENT = "that is not an event (no event name, or a non-numeric time)"


def read_events(run_dir: Path, on_skip: OnSkip = None) -> list[dict[str, Any]]:
    """events.jsonl's records, each an object with an `event` name (and a numeric `time` when
    it has one). Other lines are skipped and counted (`on_skip` hears it); so is the
    half-written last line of a killed run, as expected. No events.jsonl: no events, said
    as a warning (the samples can still be judged)."""
    path = run_dir / EVENTS_JSONL
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        unknown = "phase marks, cleanup answers, heap snapshot times, endpoint checks unknown"
        _tell(
            on_skip, Skipped(f"no {EVENTS_JSONL} in {run_dir}: judged without events ({unknown})")
        )
        return []
    lines = text.splitlines()
    if text and not text.endswith("\n"):  # the writer ends every record: this one was cut
        lines.pop()
        _tell(on_skip, _half_written(EVENTS_JSONL))
    events: list[dict[str, Any]] = []
    kinds: dict[str, list[str]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            kinds.setdefault("that is not JSON", []).append(f"line {number}")
            continue
        if not isinstance(record, dict):
            kinds.setdefault("that is not a JSON object", []).append(f"line {number}")
        elif not isinstance(record.get("event"), str) or (
            "time" in record and not _number(record["time"])
        ):
            kinds.setdefault(_NOT_EVENT, []).append(f"line {number}")
        else:
            events.append(record)
    for why, where in kinds.items():
        if len(where) > 1:
            why = why.replace("is not a JSON object", "are not JSON objects")
            why = why.replace("is not an event", "are not events").replace("is not", "are not")
        _tell(on_skip, _counted(EVENTS_JSONL, why, where))
    return events
