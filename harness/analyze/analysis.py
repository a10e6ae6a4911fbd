"""Everything `analyze` concludes about one run, as one typed object: the verdict, the leak
suspects, the checklist, and the run's headline figures. Every report format (verdict.json,
report.html, summary.md, junit.xml, the history store) is rendered from this object, so they
can never disagree.

verdict.json is this object's `to_json()`; its schema is `harness.report.schema`, versioned by
SCHEMA_VERSION (bump it on any change that is not a pure addition)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.analyze.allocator import Diagnosis, load_diagnosis
from harness.analyze.attribution import attribute_by_snapshots
from harness.analyze.checklist import FAIL, Item, run_checklist
from harness.analyze.memray import Draw, MemrayReport, load_or_build
from harness.analyze.sequential import how_it_stopped
from harness.analyze.suspects import Suspect, find_suspects
from harness.analyze.verdict import (
    INCONCLUSIVE,
    LEAK,
    Rules,
    Verdict,
    judge,
    load_samples,
    rules_from_run,
)
from harness.rundir import (
    RUN_JSON,
    SAMPLES_CSV,
    Skipped,
    profiled_run,
    read_events,
    read_meta,
    read_samples,
)

SCHEMA_VERSION = 1
VERDICT_JSON = "verdict.json"


@dataclass(frozen=True)
class RunInfo:
    """Which run this is: enough to find it again and to group it in the history."""

    id: str
    scenario: str
    status: str  # completed, interrupted, oom-killed, target-exited, error, running
    started_at: str | None
    duration_s: float | None
    backend: str | None
    memory_limit_bytes: int | None
    memory_limit_enforced: bool | None
    leaks: list[str]
    git_commit: str | None
    git_branch: str | None
    harness_version: str | None
    #: a run that may stop once it can decide: how long it ran and why it stopped
    stopped: str | None = None


@dataclass(frozen=True)
class Figures:
    """The run's headline numbers, for trends across runs (None when not measured)."""

    startup_bytes: float | None
    peak_bytes: float | None
    requests: int
    failures: int
    requests_per_s: float | None  # over the measured load phases


@dataclass
class Analysis:
    run: RunInfo
    verdict: Verdict
    suspects: list[Suspect]
    suspects_basis: str
    checklist: list[Item]
    figures: Figures
    schema_version: int = SCHEMA_VERSION
    notes: list[str] = field(default_factory=list)
    memray: MemrayReport | None = None  # a run profiled with memray: native stacks
    allocator: Diagnosis | None = None  # a run diagnosed with reruns: leak or retention

    @property
    def passed(self) -> bool:
        """No LEAK and no checklist FAIL (INCONCLUSIVE is the caller's policy)."""
        return self.verdict.verdict != LEAK and not any(i.status == FAIL for i in self.checklist)

    @property
    def inconclusive(self) -> bool:
        return self.verdict.verdict == INCONCLUSIVE

    def to_json(self) -> dict[str, Any]:
        """verdict.json: the verdict's fields at the top level (as analyze has always
        written them), plus the run, its figures, suspects and checklist, `memray` for a
        profiled run and `allocator` for a run diagnosed with allocator reruns."""
        data = {
            "schema_version": self.schema_version,
            "run": asdict(self.run),
            **self.verdict.to_json(),
            "figures": asdict(self.figures),
            "suspects": [asdict(s) for s in self.suspects],
            "suspects_basis": self.suspects_basis,
            "checklist": [asdict(i) for i in self.checklist],
            "notes": self.notes,
        }
        if self.memray is not None:
            data["memray"] = self.memray.to_json()
        if self.allocator is not None:
            data["allocator"] = self.allocator.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Analysis:
        """verdict.json read back: what a report or a comparison renders without judging the
        run again."""
        return cls(
            run=RunInfo(**data["run"]),
            verdict=Verdict.from_json(data),
            suspects=[Suspect(**s) for s in data.get("suspects") or []],
            suspects_basis=str(data.get("suspects_basis", "")),
            checklist=[Item(**i) for i in data.get("checklist") or []],
            figures=Figures(**data["figures"]),
            schema_version=int(data.get("schema_version", SCHEMA_VERSION)),
            notes=list(data.get("notes") or []),
            memray=MemrayReport.from_json(data["memray"]) if data.get("memray") else None,
            allocator=Diagnosis.from_json(data["allocator"]) if data.get("allocator") else None,
        )


def run_info(meta: dict[str, Any], events: list[dict[str, Any]] | None = None) -> RunInfo:
    env = meta.get("environment") or {}
    backend = meta.get("target_backend") or {}
    outcome = meta.get("outcome") or {}
    settings = meta.get("settings") or {}
    return RunInfo(
        id=str(meta.get("id", "?")),
        scenario=str((meta.get("scenario") or {}).get("name", "?")),
        status=str(outcome.get("status", "running")),
        started_at=meta.get("started_at"),
        duration_s=outcome.get("duration_s"),
        backend=backend.get("backend") or settings.get("backend"),
        memory_limit_bytes=backend.get("memory_limit_bytes"),
        memory_limit_enforced=backend.get("memory_limit_enforced"),
        leaks=list(settings.get("leaks") or []),
        git_commit=env.get("git_commit"),
        git_branch=env.get("git_branch"),
        harness_version=env.get("harness_version"),
        stopped=how_it_stopped(meta, events or []),
    )


def figures(run_dir: Path, meta: dict[str, Any]) -> Figures:
    rows = load_samples(run_dir)
    startup = meta.get("startup") or {}
    start = startup.get("working_set") or startup.get("rss")
    peaks = [float(r["cgroup_peak"]) for r in rows if r.get("cgroup_peak")]
    if not peaks:
        peaks = [float(r[k]) for r in rows for k in ("working_set", "rss") if r.get(k)]
    load = [r for r in rows if r["phase"].startswith("load")]
    rate = None
    if len(load) > 1:
        seconds = float(load[-1]["time"]) - float(load[0]["time"])
        done = int(load[-1]["requests"]) - int(load[0]["requests"])
        rate = done / seconds if seconds > 0 else None
    last = rows[-1] if rows else {}
    return Figures(
        startup_bytes=float(start) if start else None,
        peak_bytes=max(peaks) if peaks else None,
        requests=int(last.get("requests") or 0),
        failures=int(last.get("failures") or 0),
        requests_per_s=rate,
    )


def _ignore(message: str) -> None:
    pass


def analyze(
    run_dir: Path,
    rules: Rules,
    draw: Draw | None = None,
    warn: Callable[[str], None] = _ignore,
) -> Analysis:
    """Judge one run directory from what it recorded. `draw`: the flamegraph's renderer, for a
    profiled run whose capture is read here (the report layer hands it in). What the readers
    skipped is in the notes, so every format states it; damage is also told to `warn`, the
    half-written last line of a killed run is not (every killed run has one)."""
    meta = read_meta(run_dir)
    skipped: list[Skipped] = []
    read_samples(run_dir, skipped.append)
    events = read_events(run_dir, skipped.append)
    notes: list[str] = []
    # first: a profiled run's verdict rests on the heap series its capture gives
    memray = load_or_build(run_dir, notes.append, draw) if profiled_run(meta) else None
    heap = find_suspects(run_dir)
    verdict = judge(run_dir, rules)
    verdict = replace(
        verdict,
        classes=attribute_by_snapshots(
            verdict.classes,
            verdict.bytes_per_request,
            (s.name for s in verdict.series),
            heap.bytes_per_request,
        ),
    )
    info = run_info(meta, events)
    if info.status != "completed":
        notes.insert(0, f"the run ended early: {info.status}")
    if info.memory_limit_enforced is False:
        notes.append("no memory limit was enforced (process backend)")
    for item in skipped:
        notes.append(item.message)
        if not item.expected:
            warn(item.message)
    return Analysis(
        run=info,
        verdict=verdict,
        suspects=heap.suspects,
        suspects_basis=heap.basis,
        checklist=run_checklist(run_dir, verdict),
        figures=figures(run_dir, meta),
        notes=notes,
        memray=memray,
        allocator=load_diagnosis(run_dir, notes.append),
    )


def write_verdict(run_dir: Path, analysis: Analysis) -> Path:
    path = run_dir / VERDICT_JSON
    path.write_text(json.dumps(analysis.to_json(), indent=2) + "\n", encoding="utf-8")
    return path


class NotAnalyzable(ValueError):
    """The run directory cannot be judged; the message says why."""


def load_or_analyze(run_dir: Path) -> dict[str, Any]:
    """The run's verdict.json document when it is at least as new as its samples, else the
    run judged in memory now with the rules it recorded (nothing is written)."""
    verdict, samples = run_dir / VERDICT_JSON, run_dir / SAMPLES_CSV
    fresh = verdict.is_file() and (
        not samples.is_file() or verdict.stat().st_mtime >= samples.stat().st_mtime
    )
    if fresh:
        try:
            document = json.loads(verdict.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            document = None  # unreadable: judge the samples again
        if isinstance(document, dict) and isinstance(document.get("verdict"), str):
            return document
    if not (run_dir / RUN_JSON).is_file():
        raise NotAnalyzable(f"{run_dir} is not a run directory (no {RUN_JSON})")
    if not samples.is_file():
        raise NotAnalyzable(f"{run_dir} has no {SAMPLES_CSV}: the run recorded nothing")
    try:
        if not load_samples(run_dir):
            raise NotAnalyzable(f"{run_dir}: {SAMPLES_CSV} has no samples")
        return analyze(run_dir, rules_from_run(run_dir)).to_json()
    except NotAnalyzable:
        raise
    except Exception as exc:  # a broken run directory is a reason, never a traceback
        raise NotAnalyzable(f"{run_dir} cannot be analyzed: {type(exc).__name__}: {exc}") from exc
