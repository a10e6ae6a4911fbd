"""How a fault row is run: one `leak-harness run` in its own process group, watched through
its run directory while a fault is injected, then what it left: its outcome and exit code, the
samples it kept, what `analyze` says of it, the tracebacks printed and what is left running.
The faults themselves are in support/faults.py."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from harness.target.local import CGROUP_PREFIX

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """
description = "fault matrix: a few seconds of each phase"
shape = "steady"
users = 4
spawn_rate = 4
warmup_s = 3
duration_s = 8
cleanup_s = 2
sample_interval_s = 0.5
tracemalloc_frames = 1
"""

#: what a fault does to a running harness: given the handle, acts, returns when done
Inject = Callable[["Harness"], None]


@dataclass
class Fault:
    name: str
    inject: Inject
    status: str  # the outcome run.json must record
    exit_code: int
    args: list[str] = field(default_factory=list)
    prepare: Callable[[Path], list[str]] | None = None  # makes files/mounts, returns more args
    teardown: Callable[[Path], None] | None = None
    samples: bool = True  # the run must have kept samples
    run_dir: bool = True  # a run directory must exist (bad input makes none)
    pipe: bool = False  # stdout/stderr into a pipe the fault may close
    finding: tuple[str, ...] = ()  # the checklist items `analyze` may FAIL (exit 1) as findings


@dataclass
class Outcome:
    fault: str
    run_dir: bool
    status: str | None
    exit_code: int
    samples: int
    analyze_exit: int | None
    analyze_says: str
    failed_items: list[str]
    tracebacks: int
    leftovers: list[str]
    stderr_tail: str
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Harness:
    """One `leak-harness run` in its own process group, watched through its run directory."""

    def __init__(self, fault: Fault, work: Path) -> None:
        self.work = work
        scenario = work / "faults.toml"
        scenario.write_text(SCENARIO)
        self.out = work / "reports"
        self.log = work / "harness.log"
        command = [sys.executable, "-m", "harness", "run", "--scenario", str(scenario)]
        command += ["--backend", "cgroup", "--out", str(self.out), *fault.args]
        command += fault.prepare(work) if fault.prepare else []
        if "--out" in command:  # the last one counts, as argparse reads it
            self.out = Path(command[len(command) - 1 - command[::-1].index("--out") + 1])
        self._log = self.log.open("wb")
        output = subprocess.PIPE if fault.pipe else self._log
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )

    # -- what the run directory says -------------------------------------------------------
    def run_path(self) -> Path | None:
        latest = self.out / "latest"
        return latest.resolve() if latest.is_symlink() else None

    def events(self) -> list[dict[str, Any]]:
        path = self.run_path()
        if path is None or not (path / "events.jsonl").is_file():
            return []
        found = []
        for line in (path / "events.jsonl").read_text().splitlines():
            with contextlib.suppress(ValueError):
                found.append(json.loads(line))
        return found

    def wait_for(self, test: Callable[[dict[str, Any]], bool], timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(test(event) for event in self.events()):
                return
            if self.process.poll() is not None:
                raise AssertionError(f"the harness ended first: {self.log.read_text()[-800:]}")
            time.sleep(0.05)
        raise AssertionError("timed out waiting for the run")

    def wait_phase(self, phase: str) -> None:
        self.wait_for(lambda e: e.get("event") == "phase" and e.get("phase") == phase)

    def target_pid(self) -> int:
        self.wait_for(lambda e: e.get("event") == "target-ready")
        ready = next(e for e in self.events() if e.get("event") == "target-ready")
        return int(ready["pids"][0])

    def child_pid(self, word: str) -> int:
        for child in psutil.Process(self.process.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if any(word in part for part in child.cmdline()):
                    return child.pid
        raise AssertionError(f"no child process running {word}")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def close_output(self) -> None:
        """The reader of the harness's output dies (`| tee` killed)."""
        assert self.process.stdout is not None
        self.process.stdout.close()

    def wait(self, timeout_s: float = 240) -> int:
        try:
            return self.process.wait(timeout_s)
        finally:
            self._log.close()


def _processes_of(pids: set[int]) -> list[str]:
    alive = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"pid {pid} {' '.join(process.cmdline())[:80]}")
    return alive


def _our_cgroups(harness_pid: int) -> list[str]:
    own = Path("/proc/self/cgroup").read_text()
    found = []
    for line in own.splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers in ("memory", ""):
            base = Path("/sys/fs/cgroup") / ("memory" if controllers else "") / path.lstrip("/")
            found += [str(p) for p in base.glob(f"{CGROUP_PREFIX}{harness_pid}-*")]
    return found


def descendants(root_pid: int) -> set[int]:
    with contextlib.suppress(psutil.Error):
        return {child.pid for child in psutil.Process(root_pid).children(recursive=True)}
    return set()


def run_fault(fault: Fault, work: Path) -> Outcome:
    """Run one fault end to end and report what it left."""
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    harness = Harness(fault, work)
    seen: set[int] = set()

    def watch() -> None:  # every process the harness started, to check none outlives it
        seen.update(descendants(harness.process.pid))

    try:
        _inject_watching(fault.inject, harness, watch)
        code = harness.wait()
    finally:
        if harness.process.poll() is None:  # the fault test itself failed: stop it
            os.killpg(harness.process.pid, signal.SIGKILL)
            harness.process.wait()
    leftovers = _leftovers(seen, harness.process.pid)
    try:
        return _outcome(fault, harness, code, leftovers, started)
    finally:
        if fault.teardown is not None:
            fault.teardown(work)


def run_faults(faults: list[Fault], work: Path, workers: int) -> dict[str, Outcome | BaseException]:
    """Run faults `workers` at a time, each in its own directory under `work`; a row that
    could not be run gives its exception, so it fails alone. A row is one harness that mostly
    waits (a boot, a few seconds of each phase, a fault), and each row watches only what its
    own harness started; but side by side (3 at a time) one row's Azurite once failed to start
    in CI, so the test runs them one at a time by default."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        running = {
            fault.name: pool.submit(run_fault, fault, work / f"{index:02d}")
            for index, fault in enumerate(faults)
        }
        return {name: _result(future) for name, future in running.items()}


def _result(future: Future[Outcome]) -> Outcome | BaseException:
    try:
        return future.result()
    except Exception as exc:  # the row's own failure, raised by its test
        return exc


def _leftovers(seen: set[int], harness_pid: int, grace_s: float = 5.0) -> list[str]:
    """What the harness started that is still there once it has exited (a grace for what
    dies with its parent, and for the cgroup's janitor)."""
    deadline = time.monotonic() + grace_s
    while True:
        left = _processes_of(seen) + _our_cgroups(harness_pid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def _outcome(
    fault: Fault, harness: Harness, code: int, leftovers: list[str], started: float
) -> Outcome:
    output = harness.log.read_text(errors="replace")
    run_path = harness.run_path() if fault.run_dir else None
    status, samples, analyze_exit, analyze_says = None, 0, None, ""
    failed: list[str] = []
    if run_path is not None:
        with contextlib.suppress(OSError, ValueError):
            status = json.loads((run_path / "run.json").read_text())["outcome"]["status"]
        with contextlib.suppress(OSError):
            samples = max(0, len((run_path / "samples.csv").read_text().splitlines()) - 1)
        judged = subprocess.run(
            [sys.executable, "-m", "harness", "analyze", str(run_path), "--json"],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=ROOT,
        )
        analyze_exit = judged.returncode
        output += judged.stderr
        try:
            verdict = json.loads(judged.stdout)
            analyze_says = f"{verdict.get('verdict')}: {verdict.get('reason', '')}"[:120]
            failed = [
                str(item.get("name"))
                for item in verdict.get("checklist") or []
                if item.get("status") == "FAIL"
            ]
        except ValueError:
            analyze_says = (judged.stderr.strip().splitlines() or [""])[-1][:120]
    return Outcome(
        fault=fault.name,
        run_dir=harness.run_path() is not None,
        status=status,
        exit_code=code,
        samples=samples,
        analyze_exit=analyze_exit,
        analyze_says=analyze_says,
        failed_items=failed,
        tracebacks=output.count("Traceback (most recent call last)"),
        leftovers=leftovers,
        stderr_tail=output[-600:],
        seconds=round(time.monotonic() - started, 1),
    )


def _inject_watching(inject: Inject, harness: Harness, watch: Callable[[], None]) -> None:
    """Inject the fault while recording the harness's children until it exits."""
    done = threading.Event()

    def keep_watching() -> None:
        while not done.is_set() and harness.process.poll() is None:
            with contextlib.suppress(psutil.Error):
                watch()
            time.sleep(0.1)

    watcher = threading.Thread(target=keep_watching, daemon=True)
    watcher.start()
    try:
        inject(harness)
        if harness.process.stdout is not None and not harness.process.stdout.closed:
            _drain(harness)
        harness.process.wait(240)
    finally:
        done.set()
        watcher.join(5)


def _drain(harness: Harness) -> None:
    assert harness.process.stdout is not None
    with harness.log.open("ab") as log:
        for chunk in iter(lambda: harness.process.stdout.read(4096), b""):  # type: ignore[union-attr]
            log.write(chunk)
