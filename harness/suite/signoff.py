"""The release sign-off decision: GO or NO-GO for one version, from the runs of the full
suite, with every reason, and each scenario compared with the previous signed-off release
(from the history, kind "signoff").

The rule is strict on purpose: a release owner signs on this page, so anything the runs
could not show counts against it. An INCONCLUSIVE verdict or a SKIPped checklist item is
"not enough evidence", not a pass. The previous release is the newest other version whose
recorded sign-off runs all met the per-run rules (a NO-GO version did not ship); a scenario
that cannot be compared with it (its run directory was cleaned away, no series in common) is
noted, not held against the release, or cleaning old reports would block every release."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.analyze.verdict import INCONCLUSIVE, LEAK, NO_LEAK
from harness.compare.comparison import B_LESS, B_MORE, SAME, compare, pool
from harness.history.store import History, HistoryRow
from harness.suite.runs import SuiteEntry, SuiteError, load_analysis, now

GO, NO_GO = "GO", "NO-GO"
NOT_ENOUGH = "not enough evidence"
RULE = (
    "GO only when every scenario of the suite ran and completed, every verdict is NO LEAK, "
    "no checklist item FAILs, and no scenario leaks more than in the previous signed-off "
    "release. An INCONCLUSIVE verdict or a SKIPped checklist item is listed and makes it "
    f"NO-GO: {NOT_ENOUGH}."
)
CHANGE_WORDS = {B_MORE: "leaks more", B_LESS: "leaks less", SAME: "no difference"}


@dataclass(frozen=True)
class ScenarioChange:
    """One scenario of this release against the same scenario of the previous one."""

    scenario: str
    previous_runs: list[str]
    current_runs: list[str]
    verdict: str | None  # B_MORE, B_LESS, SAME; None: not compared (reason says why)
    reason: str

    @property
    def leaks_more(self) -> bool:
        return self.verdict == B_MORE

    @property
    def words(self) -> str:
        return CHANGE_WORDS.get(self.verdict or "", "not compared")


@dataclass
class Previous:
    """The previous signed-off release, or version None when there is none."""

    version: str | None
    signed_at: str | None = None
    changes: list[ScenarioChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class SignOff:
    version: str
    decision: str  # GO, NO-GO
    reasons: list[str]  # NO-GO: every rule broken; GO: what was shown
    entries: list[SuiteEntry]
    missing: list[str]  # scenarios of the suite that did not run
    previous: Previous
    created_at: str = field(default_factory=now)
    rule: str = RULE

    @property
    def go(self) -> bool:
        return self.decision == GO

    def to_json(self, base: Path) -> dict[str, Any]:
        return {
            "version": self.version,
            "decision": self.decision,
            "reasons": self.reasons,
            "rule": self.rule,
            "created_at": self.created_at,
            "missing": self.missing,
            "runs": [{**e.to_json(base), "checklist_items": e.checklist} for e in self.entries],
            "previous": {
                **asdict(self.previous),
                "changes": [{**asdict(c), "words": c.words} for c in self.previous.changes],
            },
        }


def run_problems(entry: SuiteEntry) -> list[str]:
    """Why this run stands against the release (empty: it supports it)."""
    name = f"{entry.label} ({entry.run_id})" if entry.run_dir else entry.label
    if entry.run_dir is None:
        return [f"{name}: did not run ({entry.error or 'no run directory'})"]
    if entry.analysis is None:
        return [f"{name}: could not be judged ({entry.error})"]
    problems = []
    if entry.status != "completed":
        problems.append(f"{name}: the run did not complete ({entry.status})")
    reason = entry.analysis.get("reason") or ""
    if entry.verdict == LEAK:
        problems.append(f"{name}: LEAK - {reason}")
    elif entry.verdict == INCONCLUSIVE:
        problems.append(f"{name}: INCONCLUSIVE - {NOT_ENOUGH} ({reason})")
    elif entry.verdict != NO_LEAK:
        problems.append(f"{name}: verdict {entry.verdict} - {NOT_ENOUGH}")
    for item in entry.checklist:
        status, evidence = item.get("status"), str(item.get("evidence") or "")
        if evidence.startswith((f"{LEAK}:", f"{INCONCLUSIVE}:")):
            continue  # the leak-test item repeats the verdict, said above
        if status == "FAIL":
            problems.append(f"{name}: checklist FAIL: {item.get('name')} - {evidence}")
        elif status != "PASS":
            problems.append(
                f"{name}: checklist {status}: {item.get('name')} - {NOT_ENOUGH} ({evidence})"
            )
    return problems


def _would_go(rows: Sequence[HistoryRow]) -> bool:
    return all(
        r.status == "completed"
        and r.verdict == NO_LEAK
        and r.checklist_fail == 0
        and r.checklist_skip == 0
        for r in rows
    )


def previous_release(
    history: History, version: str
) -> tuple[str | None, list[HistoryRow], list[str]]:
    """The newest other signed-off version, its runs, and notes on versions passed over."""
    by_version: dict[str, list[HistoryRow]] = {}
    for row in history.runs(kind="signoff"):
        if row.version and row.version != version:
            by_version.setdefault(row.version, []).append(row)

    def newest(rows: list[HistoryRow]) -> str:
        return max(r.started_at or r.recorded_at for r in rows)

    notes: list[str] = []
    for name, rows in sorted(by_version.items(), key=lambda kv: newest(kv[1]), reverse=True):
        if _would_go(rows):
            return name, rows, notes
        notes.append(f"passed over {name}: its sign-off runs were not all a GO")
    return None, [], notes


def compare_with_previous(
    rows: Sequence[HistoryRow], entries: Sequence[SuiteEntry]
) -> tuple[list[ScenarioChange], list[str]]:
    """Per scenario run in both releases: does this release's run leak more than the
    previous one's (repeated runs of a scenario pooled, as `compare` does)."""
    current: dict[str, list[SuiteEntry]] = {}
    for entry in entries:
        if entry.analysis is not None:
            current.setdefault(entry.label, []).append(entry)
    earlier: dict[str, list[HistoryRow]] = {}
    for row in rows:
        earlier.setdefault(row.scenario, []).append(row)
    changes, notes = [], []
    for scenario, mine in current.items():
        theirs = earlier.get(scenario)
        ids = [e.run_id for e in mine]
        if not theirs:
            notes.append(f"{scenario}: the previous release has no run of this scenario")
            continue
        before = []
        for row in theirs:
            try:
                before.append(load_analysis(Path(row.run_dir)))
            except SuiteError:
                notes.append(f"{scenario}: previous run {row.id} is gone ({row.run_dir})")
        previous_ids = [r.id for r in theirs]
        if not before:
            changes.append(
                ScenarioChange(scenario, previous_ids, ids, None, "previous runs are gone")
            )
            continue
        try:
            found = compare(pool(before), pool([e.analysis or {} for e in mine]))
        except ValueError as exc:
            changes.append(ScenarioChange(scenario, previous_ids, ids, None, str(exc)))
            continue
        changes.append(ScenarioChange(scenario, previous_ids, ids, found.verdict, found.reason))
    for scenario in earlier:
        if scenario not in current:
            notes.append(f"{scenario}: run in the previous release, not in this one")
    return changes, notes


def find_previous(history: History, version: str, entries: Sequence[SuiteEntry]) -> Previous:
    name, rows, notes = previous_release(history, version)
    if name is None:
        return Previous(None, None, [], notes)
    changes, more = compare_with_previous(rows, entries)
    signed = max(r.recorded_at for r in rows)
    return Previous(name, signed, changes, notes + more)


def decide(
    version: str, entries: Sequence[SuiteEntry], missing: Sequence[str], previous: Previous
) -> SignOff:
    reasons = [p for entry in entries for p in run_problems(entry)]
    reasons += [f"{name}: did not run (the suite stopped before it)" for name in missing]
    if not entries:
        reasons.append("no runs to sign off")
    reasons += [
        f"{c.scenario}: leaks more than in {previous.version} - {c.reason}"
        for c in previous.changes
        if c.leaks_more
    ]
    if reasons:
        return SignOff(version, NO_GO, reasons, list(entries), list(missing), previous)
    shown = [
        f"{len(entries)} run{'s' * (len(entries) > 1)} completed, every verdict NO LEAK, "
        "every checklist item PASS",
        f"no scenario leaks more than in {previous.version}"
        if previous.version
        else "no previous sign-off to compare with",
    ]
    return SignOff(version, GO, shown, list(entries), list(missing), previous)
