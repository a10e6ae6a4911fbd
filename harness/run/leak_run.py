"""One run: boot upstreams and the target, drive the scenario's stages, sample, clean up.

    target -> load -> sample -> run directory

Every step leaves its trace in the run directory as it happens. Whatever ends the run (the
last stage, Ctrl-C, SIGTERM, the target being OOM-killed or crashing), the same `finally`
stops Locust, the target and the upstreams and removes the cgroup or container."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from harness import __version__
from harness.analyze.memray import Draw
from harness.exit_codes import ExitCode
from harness.load.locust_process import DEFAULT_LOCUSTFILE, LocustProcess
from harness.load.scenario import Scenario, Stage, plan
from harness.load.stress import knee
from harness.run import memray as memray_run
from harness.run.app_endpoints import ask_cleanup, check_monitoring
from harness.run.config import RunSettings
from harness.run.progress import Display
from harness.rundir import LOCUST_PREFIX, TARGET_LOG, RunDirectory
from harness.sample.heap import AGENT_DIR, HeapSnapshots, agent_env
from harness.sample.probes import AppStats
from harness.sample.sampler import Sampler
from harness.target.base import Target, TargetError
from harness.target.select import make_target
from harness.target.spec import TargetSpec, expand
from harness.upstream.launch import start_upstream
from harness.upstream.process import StubStartError

#: the target died under load (OOM kill or crash): a finding, not a bug
TARGET_DIED = ExitCode.FAIL


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; the run unwinds through its cleanup."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class RunResult:
    run_dir: Path
    status: str
    exit_code: int
    detail: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGINT/SIGTERM raise Interrupted in the run's own flow. Locust's import monkey-patches
    threads into greenlets, so the handler may run inside the sampler's greenlet: then the
    exception is thrown into the greenlet that installed the handler instead of being lost."""
    try:
        import greenlet

        owner: Any = greenlet.getcurrent()
    except ImportError:  # pragma: no cover - locust always brings greenlet
        owner = None

    def handler(signum: int, _frame: FrameType | None) -> None:
        if owner is not None and greenlet.getcurrent() is not owner:
            import gevent

            gevent.get_hub().loop.run_callback(owner.throw, Interrupted(signum))
            return
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def effective_scenario(scenario: Scenario, settings: RunSettings) -> Scenario:
    """The scenario with the CLI's overrides applied."""
    changes: dict[str, Any] = {}
    if settings.duration_s is not None:
        changes["duration_s"] = settings.duration_s
    if settings.users is not None:
        changes["users"] = settings.users
    if settings.sample_interval_s is not None:
        changes["sample_interval_s"] = settings.sample_interval_s
    if settings.tracemalloc_frames is not None:
        changes["tracemalloc_frames"] = settings.tracemalloc_frames
    if settings.profile is not None:
        changes["profile"] = settings.profile
    return Scenario.model_validate({**scenario.model_dump(), **changes})


def _git(*args: str) -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["git", *args],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return done.stdout.strip() or None
    return None


def _git_branch() -> str | None:
    """The branch under test, for grouping the history: CI's variable when it sets one (a
    detached checkout has no branch), else git's."""
    for name in ("LEAK_HARNESS_BRANCH", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_BRANCH"):
        if os.environ.get(name):
            return os.environ[name]
    branch = _git("rev-parse", "--abbrev-ref", "HEAD")
    return branch if branch != "HEAD" else None


def _environment() -> dict[str, Any]:
    return {
        "harness_version": __version__,
        "python": sys.version.split()[0],
        "locust": importlib.metadata.version("locust"),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_branch": _git_branch(),
    }


def _with_agent(spec: TargetSpec, heap_dir: Path) -> TargetSpec:
    """The spec with what the heap agent needs bound into a container at the host's paths:
    its code (read-only) and the heap directory it writes snapshots into."""
    return spec.model_copy(
        update={
            "readonly_dirs": [*spec.readonly_dirs, AGENT_DIR],
            "writable_dirs": [*spec.writable_dirs, heap_dir],
        }
    )


class LeakRun:
    """`draw_flamegraph`: the report that draws a memray capture's leaks flamegraph in a
    profiled run (harness.report.flamegraph's, handed in from above; without it analyze
    draws it when it renders the reports)."""

    def __init__(
        self,
        settings: RunSettings,
        scenario: Scenario,
        display: Display,
        draw_flamegraph: Draw | None = None,
    ) -> None:
        self.settings = settings
        self.scenario = effective_scenario(scenario, settings)
        self.stages: list[Stage] = plan(self.scenario)
        self.display = display
        self.draw_flamegraph = draw_flamegraph
        self.phase = ""
        self.run: RunDirectory | None = None

    # -- the whole run ---------------------------------------------------------------------
    def execute(self) -> RunResult:
        settings = self.settings
        meta = {
            "scenario": self.scenario.model_dump(),
            "stages": [vars(stage) for stage in self.stages],
            "settings": settings.model_dump(mode="json", exclude={"target"}),
            "target": settings.target.model_dump(mode="json"),
            "environment": _environment(),
        }
        run = self.run = RunDirectory.create(settings.out, self.scenario.name, meta)
        self.display.message(f"run directory: {run.path}")
        code: int = ExitCode.INFRA
        status, detail = "error", dict[str, Any]()
        with _signals_raise():
            try:
                status, code, detail = self._execute(run)
            except Interrupted as exc:
                status, code, detail = "interrupted", ExitCode.INTERRUPTED, {"signal": str(exc)}
                self.display.message(f"interrupted by {exc}: cleaning up")
            except KeyboardInterrupt:
                status, code, detail = "interrupted", ExitCode.INTERRUPTED, {"signal": "SIGINT"}
            except (TargetError, StubStartError) as exc:
                status, code, detail = "error", ExitCode.INFRA, {"error": str(exc)}
            finally:
                # A second Ctrl-C while cleaning up must not leave anything behind.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
        run.finish(status, code, **detail)
        return RunResult(run.path, status, code, detail)

    def _execute(self, run: RunDirectory) -> tuple[str, int, dict[str, Any]]:
        settings, spec = self.settings, self.settings.target
        with ExitStack() as stack:
            upstream_values: dict[str, str] = {}
            for upstream in spec.upstreams if settings.backend != "remote" else []:
                stub = stack.enter_context(
                    start_upstream(upstream.kind, upstream.args, run.path / upstream.kind)
                )
                upstream_values[f"upstream.{upstream.kind}"] = stub.url
                upstream_values[f"upstream.{upstream.kind}.key"] = stub.api_key
                run.event("upstream-ready", kind=upstream.kind, url=stub.url, pid=stub.pid)

            profiled = self.scenario.profile == "memray"
            if profiled:
                spec = memray_run.profiled_spec(spec, run.path)
                run.update(profile=memray_run.recorded(spec))
            frames = self.scenario.tracemalloc_frames
            heap_dir = run.heap_dir.resolve()  # the same path in a container
            snapshots = HeapSnapshots(heap_dir)
            traced = spec.python and frames > 0
            if traced:
                spec = _with_agent(spec, heap_dir)
            target = stack.enter_context(
                make_target(settings.backend, spec, settings.memory_limit, settings.cpus, profiled)
            )
            if profiled:
                stack.callback(memray_run.stop_gently, target)
            run.update(target_backend=target.describe())
            for note in target.limits().notes:
                self.display.warning(note)
            env = {k: expand(v, upstream_values) for k, v in spec.env.items()}
            if settings.leaks:
                if spec.leak_env is None:
                    raise TargetError("this target has no leak switches (target.leak_env)")
                env[spec.leak_env] = ",".join(settings.leaks)
            if traced:
                env.update(agent_env(heap_dir, frames, env.get("PYTHONPATH")))

            self._set_phase("startup")
            url = target.start(env, run.path / TARGET_LOG)
            try:
                boot_s = target.wait_healthy(spec.startup_timeout_s)
            except TargetError as exc:
                raise TargetError(f"{exc}\n--- {TARGET_LOG} (tail) ---\n{_tail(run)}") from None
            run.event("target-ready", url=url, boot_s=round(boot_s, 2), pids=target.pids())
            run.update(target_backend=target.describe())

            endpoints = spec.memory_endpoints
            app_stats = AppStats(url + endpoints.stats) if endpoints and endpoints.stats else None
            locust: LocustProcess | None = None
            sampler = Sampler(
                run,
                target,
                self.scenario.sample_interval_s,
                lambda: self.phase,
                lambda: locust.progress() if locust else None,
                app_stats,
            )
            if settings.target.memory_endpoints is not None:
                check_monitoring(run, url, settings.target.memory_endpoints)
            startup = sampler.take()
            run.update(startup={"working_set": startup.working_set, "rss": startup.rss})
            self._snapshot(snapshots, target, "start")  # tracing from here on
            sampler.on_sample(self.display.sample)
            sampler.start()
            stack.callback(sampler.stop)

            locust = LocustProcess(
                settings.locustfile or DEFAULT_LOCUSTFILE,
                url,
                self.stages,
                run.path,
                LOCUST_PREFIX,
                settings.locust_processes,
                settings.locust_expect_workers,
            )
            stack.callback(locust.stop)
            self.display.start(self.stages)
            ended = self._follow_load(run, target, locust, snapshots)
            if ended is not None:
                return ended
            locust.stop()

            self._cleanup_phase(run, target, url, snapshots)
            self._set_phase("shutdown")
            sampler.stop()
            run.update(
                sampler={
                    **vars(sampler.cost),
                    "cpu_ms_per_sample": round(sampler.cost.cpu_ms_per_sample, 3),
                }
            )
            if self.scenario.shape == "stress":
                run.update(stress=knee(run.path, self.stages))
            stop_s = memray_run.STOP_TIMEOUT_S if profiled else 15.0
            exit_state = target.stop(stop_s)
            run.event("target-stopped", returncode=exit_state.returncode if exit_state else None)
            if profiled:
                memray_run.finish(run, self.display, self.draw_flamegraph)
            return "completed", ExitCode.OK, {}

    # -- the load ----------------------------------------------------------------------------
    def _follow_load(
        self, run: RunDirectory, target: Target, locust: LocustProcess, snaps: HeapSnapshots
    ) -> tuple[str, int, dict[str, Any]] | None:
        """Follow Locust through its stages; returns an outcome if the target died."""
        current: int | None = None
        while locust.running():
            ended = target.exited()
            if ended is not None:
                kind = "oom-killed" if ended.oom_killed else "target-exited"
                run.event(kind, returncode=ended.returncode)
                self.display.warning(f"target {kind} (exit code {ended.returncode})")
                return kind, TARGET_DIED, {"returncode": ended.returncode}
            progress = locust.progress()
            stage = progress.stage if progress else None
            if stage is not None and stage != current:
                if current is not None:
                    self._stage_ended(run, target, current, snaps)
                current = stage
                self._set_phase(self.stages[stage].phase)
            time.sleep(0.1)
        if current is not None:
            self._stage_ended(run, target, current, snaps)
        ended = target.exited()
        if ended is not None and ended.oom_killed:
            run.event("oom-killed", returncode=ended.returncode)
            return "oom-killed", TARGET_DIED, {"returncode": ended.returncode}
        return None

    def _stage_ended(
        self, run: RunDirectory, target: Target, index: int, snaps: HeapSnapshots
    ) -> None:
        stage = self.stages[index]
        following = self.stages[index + 1] if index + 1 < len(self.stages) else None
        if following is not None and following.phase == stage.phase:
            return  # a spike's sub-stages: one phase
        self._snapshot(snaps, target, f"{index + 1:02d}-{stage.phase}-end")
        if following is not None and following.phase.startswith("idle"):
            self._ask_cleanup(run, target.url)

    def _cleanup_phase(
        self, run: RunDirectory, target: Target, url: str, snaps: HeapSnapshots
    ) -> None:
        self._set_phase("cleanup")
        self._ask_cleanup(run, url)
        deadline = time.monotonic() + self.scenario.cleanup_s
        while time.monotonic() < deadline and target.exited() is None:
            time.sleep(0.1)
        self._snapshot(snaps, target, f"{len(self.stages) + 1:02d}-after-cleanup")

    def _ask_cleanup(self, run: RunDirectory, url: str) -> None:
        endpoints = self.settings.target.memory_endpoints
        if endpoints is not None:
            ask_cleanup(run, url, endpoints, self.scenario.sample_interval_s)

    def _snapshot(self, snaps: HeapSnapshots, target: Target, name: str) -> None:
        if not self.settings.target.python or self.scenario.tracemalloc_frames == 0:
            return
        path = snaps.request(name, target.signal_heap_dump)
        assert self.run is not None
        if name == "start":
            self.run.event("heap-tracing", started=path is not None)
        else:
            self.run.event("heap-snapshot", name=name, file=path.name if path else None)

    def _set_phase(self, phase: str) -> None:
        if phase != self.phase and self.run is not None:
            self.phase = phase
            self.run.event("phase", phase=phase)
            self.display.phase(phase)


def _tail(run: RunDirectory, lines: int = 20) -> str:
    try:
        text = (run.path / TARGET_LOG).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
