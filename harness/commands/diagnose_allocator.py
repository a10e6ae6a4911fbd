"""`leak-harness diagnose-allocator [RUN_DIR]`: RSS grows and the Python heap does not - a true
native leak, or memory the C allocator keeps? Reruns the run's scenario with allocator
settings that give freed memory back and compares growth per request (allocator.json in
RUN_DIR, then its reports re-rendered). `leak-harness run --allocator-check` does the same
right after its run.

Exit codes: 0 allocator retention, or nothing to diagnose; 1 a native leak; 4 inconclusive;
2 usage (not a run directory, a remote or memray-profiled run, another target configured)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from harness.analyze.allocator import (
    INCONCLUSIVE,
    NATIVE_LEAK,
    SERIES,
    Diagnosis,
)
from harness.load.scenario import Scenario
from harness.run.config import ConfigError, RunSettings, load_settings
from harness.run.progress import Display
from harness.rundir import RUN_JSON, SAMPLES_CSV, redact
from harness.workflows.allocator_check import (
    SETTINGS,
    AllocatorCheckError,
    check,
    diagnose,
)

PROG = "leak-harness diagnose-allocator"
EXIT_OK = 0
EXIT_LEAK = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 4
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


def print_diagnosis(diagnosis: Diagnosis, indent: str = "  ") -> None:
    """The decision, then each series' growth per request before and after each setting."""
    print(f"{indent}allocator diagnosis: {diagnosis.decision} - {diagnosis.reason}")
    runs = [diagnosis.before] + [t.growth for t in diagnosis.tried if t.growth is not None]
    if len(runs) > 1:
        head = "".join(f" {run.allocator:>24}" for run in runs)
        print(f"{indent}  {'B/request (95% CI)':<20}{head}")
        for name, label in SERIES.items():
            cells = [run.series.get(name) for run in runs]
            if all(cell is None for cell in cells):
                continue
            shown = "".join(
                f" {f'{c.slope:,.0f} ({c.low:,.0f}..{c.high:,.0f})' if c else '-':>24}"
                for c in cells
            )
            print(f"{indent}  {label:<20}{shown}")
    for tried in diagnosis.tried:
        print(f"{indent}  {tried.setting}: {tried.outcome} - {tried.reason}")
    for skipped in diagnosis.skipped:
        print(f"{indent}  {skipped.setting}: skipped - {skipped.reason}")


def exit_code(diagnosis: Diagnosis) -> int:
    if diagnosis.decision == NATIVE_LEAK:
        return EXIT_LEAK
    return EXIT_INCONCLUSIVE if diagnosis.decision == INCONCLUSIVE else EXIT_OK


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


def _rerender(run_dir: Path) -> None:
    """The run's verdict.json and reports again, now with the diagnosis in them."""
    from harness.commands import analyze

    parser = argparse.ArgumentParser()
    analyze.add_arguments(parser)
    with contextlib.redirect_stdout(io.StringIO()):
        analyze.run(parser.parse_args([str(run_dir), "--no-history"]))


def run(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    if not (run_dir / RUN_JSON).is_file() or not (run_dir / SAMPLES_CSV).is_file():
        print(
            f"{PROG}: {run_dir} is not a run directory (no {RUN_JSON} or {SAMPLES_CSV})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    run_dir = run_dir.resolve()
    try:
        meta = json.loads((run_dir / RUN_JSON).read_text(encoding="utf-8"))
        settings = _settings(run_dir, meta, args.config)
        scenario = Scenario.model_validate(meta.get("scenario") or {})
    except (ValueError, ValidationError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    display = Display(quiet=args.quiet or args.json)
    try:
        diagnosis = diagnose(run_dir, settings, scenario, args.allocators or SETTINGS, display)
    except AllocatorCheckError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        display.close()
    if (run_dir / "verdict.json").is_file():
        _rerender(run_dir)
    if args.json:
        print(json.dumps(diagnosis.to_json(), indent=2))
    else:
        print(f"run {run_dir.name}:")
        print_diagnosis(diagnosis)
    return exit_code(diagnosis)
