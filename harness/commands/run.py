"""`leak-harness run`: boot, load, sample; leaves a run directory."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

from harness.load.scenario import PROFILES, ScenarioError, available, load_scenario
from harness.report.flamegraph import render_flamegraph
from harness.run import memray as memray_run
from harness.run.config import BACKENDS, ConfigError, load_settings
from harness.run.leak_run import EXIT_USAGE, Run
from harness.run.memray import ProfileError
from harness.run.progress import Display


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario", help=f"name ({', '.join(available())}) or a .toml path (default quick)"
    )
    parser.add_argument("--backend", choices=BACKENDS, help="where the target runs (default auto)")
    parser.add_argument(
        "--leak",
        action="append",
        dest="leaks",
        metavar="NAME[:RATE]",
        help="switch on a leak of the bundled service (repeatable), e.g. unbounded-cache:4KiB",
    )
    parser.add_argument("--memory-limit", help="container memory limit, e.g. 2g (default 2g)")
    parser.add_argument("--cpus", type=float, help="CPU limit of the target (default 1)")
    parser.add_argument("--duration", type=float, dest="duration_s", help="measured load, s")
    parser.add_argument("--users", type=int, help="concurrent Locust users")
    parser.add_argument(
        "--sample-interval", type=float, dest="sample_interval_s", help="seconds (>= 0.2)"
    )
    parser.add_argument(
        "--tracemalloc-frames", type=int, help="traceback depth of heap snapshots (0: off)"
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        help="run the target under a profiler: memray records the native stacks of what it "
        "still holds at exit (cgroup, process, or docker with memray in the image; overrides "
        "the scenario's)",
    )
    parser.add_argument("--out", type=Path, help="where runs land (default reports/)")
    parser.add_argument("--config", type=Path, help="settings file (default leak-harness.toml)")
    parser.add_argument("--locustfile", type=Path, help="your own Locust users")
    parser.add_argument("--locust-processes", type=int, help="Locust worker processes (default 1)")
    parser.add_argument(
        "--locust-expect-workers",
        type=int,
        help="run Locust as a master that waits for N remote workers (see the README)",
    )
    parser.add_argument("--host", help="URL of an already running service (remote backend)")
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


def run(args: argparse.Namespace) -> int:
    cli = {
        key: getattr(args, key)
        for key in (
            "scenario",
            "backend",
            "leaks",
            "memory_limit",
            "cpus",
            "duration_s",
            "users",
            "sample_interval_s",
            "tracemalloc_frames",
            "profile",
            "out",
            "locustfile",
            "locust_processes",
            "locust_expect_workers",
            "host",
            "quiet",
            "json_output",
        )
    }
    if args.host and not args.backend:
        cli["backend"] = "remote"
    try:
        settings, _source = load_settings(cli, args.config)
        scenario = load_scenario(settings.scenario)
        if settings.locustfile is not None and not settings.locustfile.is_file():
            raise ConfigError(f"--locustfile {settings.locustfile} does not exist")
        if settings.leaks and settings.target.leak_env == "RESUME_API_LEAKS":
            from resume_api.leaks import LeakSpecError, parse_leaks  # the bundled service's

            try:
                parse_leaks(",".join(settings.leaks))
            except LeakSpecError as exc:
                raise ConfigError(f"--leak: {exc}") from None
        if (settings.profile or scenario.profile) == "memray":
            memray_run.check(settings.target, settings.backend)
            if args.allocator_check:
                raise ConfigError(
                    "--allocator-check: a run profiled with memray (its RSS holds "
                    "memray's own memory) cannot be diagnosed"
                )
        if args.allocator_check and settings.backend == "remote":
            raise ConfigError(
                "--allocator-check: a remote service cannot be restarted with "
                "other allocator settings"
            )
    except (ConfigError, ScenarioError, ProfileError) as exc:
        print(f"leak-harness run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    display = Display(quiet=settings.quiet or settings.json_output)
    result = Run(settings, scenario, display, draw_flamegraph=render_flamegraph).execute()
    diagnosis = None
    if args.allocator_check and result.status not in ("error", "interrupted"):
        from harness.workflows.allocator_check import SETTINGS, diagnose

        diagnosis = diagnose(result.run_dir, settings, scenario, SETTINGS, display)
    display.close()
    error = result.detail.get("error")
    if error:
        print(f"leak-harness run: {error}", file=sys.stderr)
    verdict_code: int | None = None
    if args.analyze and result.status != "error":
        verdict_code = _analyze(result.run_dir, quiet=settings.json_output)
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
            from harness.commands.diagnose_allocator import print_diagnosis

            print_diagnosis(diagnosis, indent="")
        print(f"{result.status}: {result.run_dir}")
    return result.exit_code or (verdict_code or 0)


def _analyze(run_dir: Path, quiet: bool) -> int:
    """`leak-harness analyze RUN_DIR` with its defaults: a run that ended early (OOM kill,
    Ctrl-C) is judged too, on what it recorded. `quiet`: the JSON summary carries it."""
    from harness.commands import analyze

    parser = argparse.ArgumentParser()
    analyze.add_arguments(parser)
    options = parser.parse_args([str(run_dir)])
    with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
        code: int = analyze.run(options)
    return code
