"""`leak-harness diagnose-allocator [RUN_DIR]`: RSS grows and the Python heap does not - a true
native leak, or memory the C allocator keeps? Reruns the run's scenario with allocator
settings that give freed memory back and compares growth per request (allocator.json in
RUN_DIR, then its reports re-rendered). `leak-harness run --allocator-check` does the same
right after its run.

Exit codes: 0 allocator retention, or nothing to diagnose; 1 a native leak; 4 inconclusive;
2 usage (not a run directory, a remote or memray-profiled run, another target configured)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pydantic import ValidationError

from harness.analyze.allocator import INCONCLUSIVE, NATIVE_LEAK, Diagnosis
from harness.analyze.verdict import rules_from_run
from harness.errors import UsageError
from harness.exit_codes import ExitCode
from harness.load.scenario import Scenario
from harness.report.terminal import diagnosis_lines
from harness.run.config import ConfigError, RunSettings, load_settings
from harness.run.progress import Display
from harness.rundir import RUN_JSON, SAMPLES_CSV, read_meta, redact
from harness.workflows.allocator_check import SETTINGS, check, diagnose
from harness.workflows.judge import judge_run

#: the run's own settings a rerun repeats (the scenario's overrides are in its recorded scenario)
REPEATED = ("backend", "memory_limit", "cpus", "leaks", "locustfile", "locust_processes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", nargs="?", type=Path, default=Path("reports/latest"))
    add_allocator_option(parser, "--allocator")
    parser.add_argument("--config", type=Path, help="the settings file the run used (its [target])")
    parser.add_argument("--json", action="store_true", help="print allocator.json")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress")


def add_allocator_option(parser: argparse.ArgumentParser, flag: str) -> None:
    parser.add_argument(
        flag,
        action="append",
        dest="allocators",
        choices=SETTINGS,
        metavar="SETTING",
        help=f"rerun with this allocator setting (repeatable; default all: {', '.join(SETTINGS)}"
        "; jemalloc only where libjemalloc2 is installed)",
    )


def exit_code(diagnosis: Diagnosis) -> ExitCode:
    if diagnosis.decision == NATIVE_LEAK:
        return ExitCode.FAIL
    return ExitCode.INCONCLUSIVE if diagnosis.decision == INCONCLUSIVE else ExitCode.OK


def _settings(run_dir: Path, meta: dict[str, object], config: Path | None) -> RunSettings:
    """The run's settings again: its recorded ones, the target from the configuration (run.json
    holds it with its secrets redacted), which must be the target the run had."""
    recorded = meta.get("settings")
    recorded = recorded if isinstance(recorded, dict) else {}
    cli = {key: recorded.get(key) for key in REPEATED}
    cli["backend"] = check(meta)
    settings, _ = load_settings(cli, config)
    target = meta.get("target")
    if isinstance(target, dict):
        configured = redact(settings.target.model_dump(mode="json"))
        for key in ("name", "command"):
            if key in target and target[key] != configured.get(key):
                ran = f"{target.get('name')!r} ({' '.join(target.get('command') or [])})"
                raise ConfigError(
                    f"{run_dir.name} ran target {ran}, the configuration has "
                    f"{settings.target.name!r} ({' '.join(settings.target.command)}): pass "
                    "the --config the run used"
                )
    return settings


def main(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    if not (run_dir / RUN_JSON).is_file() or not (run_dir / SAMPLES_CSV).is_file():
        raise UsageError(f"{run_dir} is not a run directory (no {RUN_JSON} or {SAMPLES_CSV})")
    run_dir = run_dir.resolve()
    try:
        meta = read_meta(run_dir)
        settings = _settings(run_dir, meta, args.config)
        scenario = Scenario.model_validate(meta.get("scenario") or {})
    except (ValueError, ValidationError) as exc:
        raise UsageError(str(exc)) from exc
    display = Display(quiet=args.quiet or args.json)
    try:
        diagnosis = diagnose(run_dir, settings, scenario, args.allocators or SETTINGS, display)
    finally:
        display.close()
    if (run_dir / "verdict.json").is_file():  # its verdict.json and reports, with the diagnosis
        judge_run(run_dir, rules_from_run(run_dir), history=False)
    if args.json:
        print(json.dumps(diagnosis.to_json(), indent=2))
    else:
        print(f"run {run_dir.name}:")
        print("\n".join(diagnosis_lines(diagnosis)))
    return exit_code(diagnosis)
