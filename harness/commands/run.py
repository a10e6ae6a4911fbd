"""`leak-harness run`: boot, load, sample; leaves a run directory."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.analyze.verdict import rules_from_run
from harness.commands._run_options import add_run_options, run_option_values
from harness.load.scenario import PROFILES, available, load_scenario
from harness.report.flamegraph import render_flamegraph
from harness.report.terminal import diagnosis_lines, render_terminal
from harness.run import memray as memray_run
from harness.run.config import ConfigError, check_leaks, load_settings
from harness.run.leak_run import LeakRun
from harness.run.progress import Display
from harness.workflows.judge import judge_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario", help=f"name ({', '.join(available())}) or a .toml path (default quick)"
    )
    add_run_options(parser)
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        help="run the target under a profiler: memray records the native stacks of what it "
        "still holds at exit (cgroup, process, or docker with memray in the image; overrides "
        "the scenario's)",
    )
    parser.add_argument("--out", type=Path, help="where runs land (default reports/)")
    parser.add_argument("--locust-processes", type=int, help="Locust worker processes (default 1)")
    parser.add_argument(
        "--locust-expect-workers",
        type=int,
        help="run Locust as a master that waits for N remote workers (see the README)",
    )
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="judge the run when it ends (verdict, checklist, reports); the exit code is then "
        "analyze's when the run completed",
    )
    parser.add_argument(
        "--allocator-check",
        action="store_true",
        help="when RSS grows and the Python heap does not, run the scenario again with allocator "
        "settings that give freed memory back: a native leak persists, allocator retention goes "
        "away (allocator.json; see leak-harness diagnose-allocator)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", default=None, help="no progress")
    parser.add_argument(
        "--json", action="store_true", dest="json_output", default=None, help="print a JSON result"
    )


def main(args: argparse.Namespace) -> int:
    only_run = ("scenario", "profile", "out", "locust_processes", "locust_expect_workers")
    cli = {
        **run_option_values(args),
        **{key: getattr(args, key) for key in (*only_run, "quiet", "json_output")},
    }
    if args.host and not args.backend:
        cli["backend"] = "remote"
    settings, _source = load_settings(cli, args.config)
    scenario = load_scenario(settings.scenario)
    if settings.locustfile is not None and not settings.locustfile.is_file():
        raise ConfigError(f"--locustfile {settings.locustfile} does not exist")
    check_leaks(settings)
    if (settings.profile or scenario.profile) == "memray":
        memray_run.check(settings.target, settings.backend)
        if args.allocator_check:
            raise ConfigError(
                "--allocator-check: a run profiled with memray (its RSS holds "
                "memray's own memory) cannot be diagnosed"
            )
    if args.allocator_check and settings.backend == "remote":
        raise ConfigError(
            "--allocator-check: a remote service cannot be restarted with other allocator settings"
        )
    display = Display(quiet=settings.quiet or settings.json_output)
    result = LeakRun(settings, scenario, display, draw_flamegraph=render_flamegraph).execute()
    diagnosis = None
    if args.allocator_check and result.status not in ("error", "crashed", "interrupted"):
        from harness.workflows.allocator_check import SETTINGS, diagnose

        diagnosis = diagnose(result.run_dir, settings, scenario, SETTINGS, display)
    display.close()
    error = result.detail.get("error")
    if error:
        print(f"{args.prog}: {error}", file=sys.stderr)
    verdict_code: int | None = None
    if args.analyze and result.status != "error":
        verdict_code = _analyze(result.run_dir, args.prog, quiet=settings.json_output)
    if settings.json_output:
        summary = {
            "run_dir": str(result.run_dir),
            "status": result.status,
            "exit_code": result.exit_code,
            **result.detail,
        }
        if diagnosis is not None:
            summary["allocator"] = diagnosis.to_json()
        verdict = result.run_dir / "verdict.json"
        if verdict_code is not None and verdict.is_file():
            summary["verdict"] = json.loads(verdict.read_text(encoding="utf-8"))
        print(json.dumps(summary))
    else:
        if diagnosis is not None and verdict_code is None:  # analyze printed it otherwise
            print("\n".join(diagnosis_lines(diagnosis, indent="")))
        print(f"{result.status}: {result.run_dir}")
    return result.exit_code or (verdict_code or 0)


def _analyze(run_dir: Path, prog: str, quiet: bool) -> int:
    """Judged as `leak-harness analyze RUN_DIR` judges it: a run that ended early (OOM kill,
    Ctrl-C) is judged too, on what it recorded. `quiet`: the JSON summary carries it."""

    def warn(message: str) -> None:
        print(f"{prog}: {message}", file=sys.stderr)

    judged = judge_run(run_dir, rules_from_run(run_dir), warn=warn)
    if not quiet:
        print(render_terminal(judged.analysis, run_dir, judged.report))
    return judged.exit_code()
