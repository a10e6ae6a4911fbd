"""A suite's runs: the scenarios it meant to run, the run each produced (or why none), how
each ended and the suite's exit code, and suite.json, which `leak-harness signoff --suite`
reads back. A run's analysis is its verdict.json (what its report shows); a run never
analyzed is judged in memory, and one that cannot be judged is kept with the reason."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.analyze.analysis import NotAnalyzable, load_or_analyze
from harness.analyze.verdict import INCONCLUSIVE, LEAK
from harness.errors import UsageError
from harness.exit_codes import ExitCode
from harness.rundir import RUN_JSON, read_meta

SUITES_DIR = "suites"
SUITE_JSON = "suite.json"

# Worst last: a finding (LEAK, checklist FAIL, target died) outranks a run that could not
# start, which outranks INCONCLUSIVE; an interrupted suite says so above all.
SEVERITY = (
    ExitCode.OK,
    ExitCode.INCONCLUSIVE,
    ExitCode.USAGE,
    ExitCode.INFRA,
    ExitCode.INTERNAL,
    ExitCode.FAIL,
    ExitCode.BROKEN_PIPE,
    ExitCode.TERMINATED,
    ExitCode.INTERRUPTED,
)


class SuiteError(UsageError, ValueError):
    """A run directory or suite that cannot be indexed (said in one line)."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def worst_exit(codes: Iterable[int]) -> int:
    """The suite's exit code: the most severe of its runs' (unknown codes count as infra)."""
    known = [c if c in SEVERITY else ExitCode.INFRA for c in codes]
    return int(max(known, key=SEVERITY.index, default=ExitCode.OK))


def load_analysis(run_dir: Path) -> dict[str, Any]:
    """The run's analysis (verdict.json when fresh, else judged in memory now; nothing is
    written). Raises SuiteError when it cannot be judged."""
    try:
        return load_or_analyze(run_dir)
    except NotAnalyzable as exc:  # a broken run is listed with the reason, never a traceback
        raise SuiteError(str(exc)) from exc


def exit_code_of(status: str, analysis: dict[str, Any] | None) -> int:
    """What a run that ended so counts for in a suite. An interrupted run (this suite's own
    interruption is the suite's to say) vouches for nothing: what it recorded may still show a
    LEAK or a FAIL, but never a clean pass. An OOM kill fails the checklist's peak item."""
    if status == "oom-killed":
        return ExitCode.FAIL
    if status not in ("completed", "interrupted") or analysis is None:
        return ExitCode.INFRA
    failed = any(i.get("status") == "FAIL" for i in analysis.get("checklist") or [])
    if analysis.get("verdict") == LEAK or failed:
        return ExitCode.FAIL
    if status == "interrupted" or analysis.get("verdict") == INCONCLUSIVE:
        return ExitCode.INCONCLUSIVE
    return ExitCode.OK


@dataclass
class SuiteEntry:
    """One scenario of the suite: its run (None when it could not start) and how it ended."""

    scenario: str
    exit_code: int
    run_dir: Path | None = None
    status: str = "not run"
    analysis: dict[str, Any] | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        """The scenario's own name (run.json's, which the history groups by), not the
        path of the .toml file it may have been given as."""
        run = (self.analysis or {}).get("run") or {}
        if run.get("scenario"):
            return str(run["scenario"])
        return Path(self.scenario).stem if self.scenario.endswith(".toml") else self.scenario

    @property
    def run_id(self) -> str:
        run = (self.analysis or {}).get("run") or {}
        return str(run.get("id") or self._dir_name)

    @property
    def _dir_name(self) -> str:
        return self.run_dir.name if self.run_dir is not None else "-"

    @property
    def verdict(self) -> str | None:
        return None if self.analysis is None else str(self.analysis.get("verdict"))

    @property
    def checklist(self) -> list[dict[str, Any]]:
        return list((self.analysis or {}).get("checklist") or [])

    def counts(self) -> dict[str, int]:
        statuses = [str(item.get("status")) for item in self.checklist]
        return {s: statuses.count(s) for s in ("PASS", "FAIL", "SKIP")}

    def figure(self, name: str) -> float | None:
        value = ((self.analysis or {}).get("figures") or {}).get(name)
        return float(value) if isinstance(value, int | float) else None

    def to_json(self, base: Path) -> dict[str, Any]:
        analysis = self.analysis or {}
        return {
            "scenario": self.scenario,
            "label": self.label,
            "exit_code": self.exit_code,
            "run_id": self.run_id,
            "run_dir": str(self.run_dir) if self.run_dir is not None else None,
            "path": relative(self.run_dir, base) if self.run_dir is not None else None,
            "status": self.status,
            "verdict": self.verdict,
            "reason": analysis.get("reason"),
            "checklist": self.counts(),
            "failed_items": [i.get("name") for i in self.checklist if i.get("status") == "FAIL"],
            "startup_bytes": self.figure("startup_bytes"),
            "peak_bytes": self.figure("peak_bytes"),
            "requests": ((self.analysis or {}).get("figures") or {}).get("requests"),
            "error": self.error,
        }


def entry_for_run(
    run_dir: Path, scenario: str | None = None, exit_code: int | None = None
) -> SuiteEntry:
    """The entry of one run directory; `exit_code` is what its run exited with when known."""
    try:
        meta = read_meta(run_dir)
    except (OSError, ValueError) as exc:
        raise SuiteError(f"{run_dir} is not a run directory (no readable {RUN_JSON})") from exc
    status = str((meta.get("outcome") or {}).get("status") or "running")
    name = scenario or str((meta.get("scenario") or {}).get("name") or run_dir.name)
    analysis, error = None, None
    try:
        analysis = load_analysis(run_dir)
    except SuiteError as exc:
        error = str(exc)
    code = exit_code_of(status, analysis) if exit_code is None else exit_code
    return SuiteEntry(name, code, run_dir, status, analysis, error)


def checklist_text(entry: SuiteEntry) -> str:
    counts = entry.counts()
    if not entry.checklist:
        return "-"
    text = " · ".join(f"{n} {s}" for s, n in counts.items() if n)
    failed = [str(i.get("name")) for i in entry.checklist if i.get("status") == "FAIL"]
    return text + (f" (FAIL: {', '.join(failed)})" if failed else "")


@dataclass
class Suite:
    """The runs of one suite, in the order they ran, and the scenarios it meant to run."""

    id: str
    path: Path  # <out>/suites/<id>
    scenarios: list[str]
    entries: list[SuiteEntry] = field(default_factory=list)
    started_at: str = field(default_factory=now)
    finished_at: str | None = None
    interrupted: bool = False
    options: list[str] = field(default_factory=list)  # given to every run

    @property
    def missing(self) -> list[str]:
        """Planned scenarios with no entry (the suite was stopped before them)."""
        left = [e.scenario for e in self.entries]
        missing = []
        for name in self.scenarios:
            if name in left:
                left.remove(name)
            else:
                missing.append(name)
        return missing

    @property
    def exit_code(self) -> int:
        codes = [e.exit_code for e in self.entries]
        return worst_exit(codes + ([ExitCode.INTERRUPTED] if self.interrupted else []))

    def to_json(self) -> dict[str, Any]:
        return {
            "suite_id": self.id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "scenarios": self.scenarios,
            "options": self.options,
            "interrupted": self.interrupted,
            "exit_code": self.exit_code,
            "missing": self.missing,
            "runs": [e.to_json(self.path) for e in self.entries],
        }


def new_suite(out: Path, scenarios: Sequence[str], options: Sequence[str] = ()) -> Suite:
    """A new, empty suite directory under <out>/suites/."""
    parent = out / SUITES_DIR
    parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path, suffix = parent / stamp, 1
    while True:
        try:
            path.mkdir()
            break
        except FileExistsError:
            suffix += 1
            path = parent / f"{stamp}-{suffix}"
    return Suite(path.name, path, list(scenarios), options=list(options))


def read_suite(path: Path) -> Suite:
    """A suite written by `write_index`, its runs read again from their directories (found
    relative to the suite first, so a copied reports directory still works)."""
    try:
        document = json.loads((path / SUITE_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SuiteError(f"{path} is not a suite directory (no readable {SUITE_JSON})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("runs"), list):
        raise SuiteError(f"{path / SUITE_JSON} is not a suite (no runs list)")
    suite = Suite(
        str(document.get("suite_id") or path.name),
        path,
        [str(s) for s in document.get("scenarios") or []],
        started_at=str(document.get("started_at") or ""),
        finished_at=document.get("finished_at"),
        interrupted=bool(document.get("interrupted")),
        options=[str(o) for o in document.get("options") or []],
    )
    for run in document["runs"]:
        if not isinstance(run, dict):
            raise SuiteError(f"{path / SUITE_JSON}: a run entry is not an object")
        scenario = str(run.get("scenario") or "?")
        code = run["exit_code"] if isinstance(run.get("exit_code"), int) else ExitCode.INFRA
        found = [
            path / run[k] if k == "path" else Path(run[k])
            for k in ("path", "run_dir")
            if run.get(k)
        ]
        run_dir = next((d for d in found if (d / RUN_JSON).is_file()), None)
        if run_dir is not None:
            suite.entries.append(entry_for_run(run_dir.resolve(), scenario, code))
        else:
            gone = f"run directory {run.get('run_dir')} is gone" if found else None
            suite.entries.append(
                SuiteEntry(scenario, code, None, "not run", None, gone or run.get("error"))
            )
    return suite


def relative(target: Path, base: Path) -> str:
    """`target` as seen from the directory `base` (a link that survives copying both)."""
    return os.path.relpath(target.resolve(), base.resolve())
