"""A suite: scenarios run one after another, each as its own `python -m harness run
--scenario S --analyze` process (a run that crashes, or whose target is OOM-killed, cannot
take the others down), indexed in <out>/suites/<id>/index.html after each. Ctrl-C stops the
current run (it cleans up and is judged on what it recorded) and the suite; what was done
stays indexed. `suite` and `signoff` both run suites through here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from harness.errors import UsageError
from harness.exit_codes import ExitCode
from harness.load.scenario import ScenarioError, load_scenario, plan
from harness.run.config import check_leaks, load_settings
from harness.rundir import RUN_JSON
from harness.suite.runs import (
    SEVERITY,
    Suite,
    SuiteEntry,
    checklist_text,
    entry_for_run,
    new_suite,
    now,
)

DEFAULT_SCENARIOS = ("full", "spike", "stress")
OVERHEAD_S = 20.0  # boot, heap snapshots, shutdown and analysis of one run, roughly


def estimate_s(name: str) -> float | None:
    """How long one scenario takes, boot and analysis included (None: it does not load)."""
    try:
        scenario = load_scenario(name)
    except ScenarioError:
        return None
    return sum(s.duration_s for s in plan(scenario)) + scenario.cleanup_s + OVERHEAD_S


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def default_suite_text() -> str:
    each = [(name, estimate_s(name)) for name in DEFAULT_SCENARIOS]
    known = [s for _, s in each if s is not None]
    parts = ", ".join(f"{n} ~{_minutes(s)}" if s else n for n, s in each)
    total = f"about {_minutes(sum(known))} in all" if known else "duration unknown"
    return f"{parts}: {total}"


def scenario_names(text: str | None) -> list[str]:
    """The scenarios asked for, each checked before anything runs."""
    names = [n.strip() for n in (text or ",".join(DEFAULT_SCENARIOS)).split(",") if n.strip()]
    if not names:
        raise UsageError("--scenarios: no scenario given")
    for name in names:
        try:
            load_scenario(name)
        except ScenarioError as exc:
            raise UsageError(f"--scenarios: {exc}") from None
    return names


def settled_out(options: Mapping[str, Any], out: Path | None, config: Path | None) -> Path:
    """`out`, else the settings' (leak-harness.toml), after checking the run options the way
    `run` will, so a typo fails now and not after the first scenario."""
    cli = {**options, "out": out}
    if cli.get("host") and not cli.get("backend"):
        cli["backend"] = "remote"
    settings, _ = load_settings(cli, config)  # a ConfigError is a UsageError
    check_leaks(settings)
    return settings.out.resolve()


def existing_runs(paths: Sequence[Path]) -> list[Path]:
    dirs = []
    for path in paths:
        if not (path / RUN_JSON).is_file():
            raise UsageError(f"{path} is not a run directory (no {RUN_JSON})")
        resolved = path.resolve()
        if resolved in dirs:
            raise UsageError(f"{path} is given twice")
        dirs.append(resolved)
    return dirs


class StopRequest:
    """The signal handler while the suite runs: the first SIGINT/SIGTERM is passed on, once,
    to the run in progress (in its own process group, so Ctrl-C on a terminal reaches only
    the suite) and the suite stops after that run has cleaned up and been indexed; later
    signals are ignored. Nothing is raised, so no bookkeeping is cut in half."""

    def __init__(self, prog: str) -> None:
        self.prog = prog
        self.signum: int | None = None
        self.child: subprocess.Popen[str] | None = None

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is not None:
            return
        self.signum = signum
        name = signal.Signals(signum).name
        os.write(
            2, f"{self.prog}: {name}: stopping after the current run has cleaned up\n".encode()
        )
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        previous = {sig: signal.signal(sig, self) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


def _run_dir_of(lines: Sequence[str]) -> Path | None:
    """`run` ends with "<status>: <run dir>" on stdout."""
    for line in reversed(lines):
        status, _, path = line.strip().partition(": ")
        if status and " " not in status and path and (Path(path) / RUN_JSON).is_file():
            return Path(path)
    return None


def run_one(
    scenario: str, out: Path, options: Sequence[str], echo: bool, stop: StopRequest
) -> SuiteEntry:
    """One scenario as `python -m harness run --analyze` in its own process group. Its
    progress goes to our stderr; its stdout is echoed when `echo`."""
    command = [sys.executable, "-m", "harness", "run", "--scenario", scenario, "--analyze"]
    command += ["--out", str(out), *options] + ([] if echo else ["--quiet"])
    lines: list[str] = []
    with subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, process_group=0
    ) as process:
        stop.child = process
        if stop.signum is not None:  # the signal came while it was starting
            process.send_signal(stop.signum)
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if echo:
                print(f"  {line}", end="", flush=True)
    stop.child = None
    code = process.returncode if process.returncode in SEVERITY else ExitCode.INFRA
    run_dir = _run_dir_of(lines)
    if run_dir is None:
        meaning = {
            int(ExitCode.USAGE): "usage or configuration error",
            int(ExitCode.INFRA): "infrastructure",
        }
        why = meaning.get(process.returncode, "see its messages above")
        error = f"the run could not start (exit {process.returncode}: {why})"
        return SuiteEntry(scenario, code, error=error)
    entry = entry_for_run(run_dir.resolve(), scenario, code)
    if process.returncode not in SEVERITY:
        entry.error = f"the run process exited with {process.returncode}"
    return entry


def write_index(suite: Suite) -> None:
    from harness.suite.index import write_index as write  # the HTML style: matplotlib

    write(suite)


def execute(
    scenarios: Sequence[str], out: Path, options: Sequence[str], quiet: bool, prog: str
) -> Suite:
    """Run the scenarios in turn, re-writing the index after each; stops early on Ctrl-C or
    SIGTERM (the current run cleans up and is indexed) and on a usage error, which every
    later run would repeat."""
    suite = new_suite(out, scenarios, options)
    write_index(suite)
    with StopRequest(prog).installed() as stop:
        for number, scenario in enumerate(scenarios, 1):
            if stop.signum is not None:
                break
            if not quiet:
                took = estimate_s(scenario)
                about = f" (about {_minutes(took)})" if took else ""
                print(f"[{number}/{len(scenarios)}] {scenario}{about}", flush=True)
            entry = run_one(scenario, out, options, not quiet, stop)
            suite.entries.append(entry)
            write_index(suite)
            if not quiet:
                print(f"[{number}/{len(scenarios)}] {entry_line(entry)}", flush=True)
            if entry.exit_code == ExitCode.USAGE:
                break
        suite.interrupted = stop.signum is not None
        suite.finished_at = now()
        write_index(suite)
    return suite


def entry_line(entry: SuiteEntry) -> str:
    verdict = entry.verdict or "no verdict"
    where = entry.run_dir or entry.error or ""
    return (
        f"{entry.label}: {entry.status}, {verdict}, checklist {checklist_text(entry)} "
        f"(exit {entry.exit_code}) {where}"
    )


def index_existing(run_dirs: Sequence[Path], out: Path) -> Suite:
    entries = [entry_for_run(d) for d in run_dirs]
    suite = new_suite(out, [e.scenario for e in entries])
    suite.entries = entries
    suite.finished_at = suite.started_at
    write_index(suite)
    return suite
