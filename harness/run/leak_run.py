"""One run: boot upstreams and the target, drive the scenario's stages, sample, clean up.

    target -> load -> sample -> run directory

Every step leaves its trace in the run directory as it happens. Whatever ends the run (the
last stage, Ctrl-C, SIGTERM, the target being OOM-killed or crashing), the same `finally`
stops Locust, the target and the upstreams and removes the cgroup or container."""

from __future__ import annotations

import contextlib
import functools
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from harness.analyze.memray import Draw
from harness.exit_codes import ExitCode
from harness.load.locust_process import DEFAULT_LOCUSTFILE, LOCUST_LOG, LocustProcess
from harness.load.scenario import Scenario, Stage, look_times, plan
from harness.load.stress import knee
from harness.run import memray as memray_run
from harness.run.app_endpoints import check_monitoring, memory_headers
from harness.run.cleanup import request_cleanup
from harness.run.config import RunSettings, effective_scenario
from harness.run.looks import Looks
from harness.run.outcomes import (
    HARNESS_ERROR,
    LoadError,
    RunDirectoryUnwritable,
    RunResult,
    TargetDied,
    UpstreamDied,
)
from harness.run.progress import Display
from harness.run.provenance import environment
from harness.run.signals import Interrupted, StopSignals, shielded
from harness.rundir import LOCUST_PREFIX, TARGET_LOG, RunDirectory
from harness.sample.heap import AGENT_DIR, HeapSnapshots, agent_env
from harness.sample.probes import AppStats, read_limits
from harness.sample.sampler import Sampler
from harness.target.base import Target, TargetError
from harness.target.select import make_target
from harness.target.spec import TargetSpec, expand
from harness.upstream.child import ListeningChild
from harness.upstream.launch import start_upstream
from harness.upstream.process import StubStartError


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
        self.looks = Looks(look_times(self.scenario))
        self.display = display
        self.draw_flamegraph = draw_flamegraph
        self.phase = ""
        self.run: RunDirectory | None = None
        self.signals = StopSignals()
        self.sampler: Sampler | None = None
        self.upstreams: list[tuple[str, ListeningChild]] = []
        self.memory_headers: dict[str, str] = {}  # the target's API key: never written anywhere
        #: the heap agent's garbage collection, in a Python target
        self.agent_gc: Callable[[], dict[str, Any] | None] | None = None

    # -- the whole run ---------------------------------------------------------------------
    def execute(self) -> RunResult:
        settings = self.settings
        meta = {
            "scenario": self.scenario.model_dump(),
            "stages": [vars(stage) for stage in self.stages],
            "looks": self.looks.times,
            "settings": settings.model_dump(mode="json", exclude={"target"}),
            "target": settings.target.model_dump(mode="json"),
            "environment": environment(),
        }
        run = self.run = RunDirectory.create(settings.out, self.scenario.name, meta)
        self.display.message(f"run directory: {run.path}")
        with self.signals as signals:
            status, code, detail = self._outcome(run)
            self._record_sampling(run)
            if signals.ignored:
                detail["ignored_during_cleanup"] = signals.ignored
            run.finish(status, code, **detail)
        recorded = run.meta["outcome"]  # as run.json has it: what is printed is redacted too
        return RunResult(run.path, status, code, {k: recorded[k] for k in detail})

    def _outcome(self, run: RunDirectory) -> tuple[str, int, dict[str, Any]]:
        """The run, and how it ended: every way out gives run.json an outcome."""
        try:
            return self._execute(run)
        except Interrupted as exc:
            self.display.message(f"interrupted by {exc}: cleaned up")
            return "interrupted", exc.exit_code, {"signal": str(exc)}
        except KeyboardInterrupt:  # before the handlers were in place
            return "interrupted", ExitCode.INTERRUPTED, {"signal": "SIGINT"}
        except TargetDied as exc:
            run.event(exc.status, **exc.detail)
            self.display.warning(str(exc))
            return exc.status, exc.exit_code, {**exc.detail, "error": str(exc)}
        except (
            TargetError,
            StubStartError,
            LoadError,
            UpstreamDied,
            RunDirectoryUnwritable,
        ) as exc:
            return "error", ExitCode.INFRA, {"error": str(exc)}
        except Exception as exc:  # a harness bug: the run directory still closes
            with contextlib.suppress(OSError):
                (run.path / HARNESS_ERROR).write_text(traceback.format_exc(), encoding="utf-8")
            error = f"internal error: {type(exc).__name__}: {exc} (traceback in {HARNESS_ERROR})"
            return "crashed", ExitCode.INTERNAL, {"error": error}

    def _record_sampling(self, run: RunDirectory) -> None:
        """What sampling cost, and what failed in it (said, not hidden), however the run ended."""
        sampler = self.sampler
        if sampler is None:
            return
        sampler.stop()
        for kind, count in sampler.errors.items():
            self.display.warning(f"sampling: {kind} ({count} of {sampler.cost.samples} ticks)")
        app = sampler.app_stats
        app_problem = app.last_problem if app is not None else None
        if app is not None and app.failures:
            self.display.warning(f"the app's stats failed {app.failures} times: {app_problem}")
        with contextlib.suppress(OSError):
            run.update(
                sampler={
                    **vars(sampler.cost),
                    "cpu_ms_per_sample": round(sampler.cost.cpu_ms_per_sample, 3),
                    "errors": sampler.errors,
                    "app_stats_failures": app.failures if app is not None else None,
                    "app_stats_problem": app_problem,
                }
            )

    def _execute(self, run: RunDirectory) -> tuple[str, int, dict[str, Any]]:
        settings, spec = self.settings, self.settings.target
        with ExitStack() as stack, shielded(self.signals):
            upstream_values: dict[str, str] = {}
            for upstream in spec.upstreams if settings.backend != "remote" else []:
                stub = stack.enter_context(
                    start_upstream(upstream.kind, upstream.args, run.path / upstream.kind)
                )
                upstream_values[f"upstream.{upstream.kind}"] = stub.url
                upstream_values[f"upstream.{upstream.kind}.key"] = stub.api_key
                self.upstreams.append((upstream.kind, stub))
                run.event("upstream-ready", kind=upstream.kind, url=stub.url, pid=stub.pid)

            profiled = self.scenario.profile == "memray"
            if profiled:
                spec = memray_run.profiled_spec(spec, run.path)
                run.update(profile=memray_run.recorded(spec))
            frames = self.scenario.tracemalloc_frames
            heap_dir = run.heap_dir.resolve()  # the same path in a container
            snapshots = HeapSnapshots(heap_dir)
            if spec.python:  # snapshots when traced; garbage collections for any Python target
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
            if spec.python:
                env.update(agent_env(heap_dir, frames, env.get("PYTHONPATH")))
                self.agent_gc = functools.partial(snapshots.collect, target.signal_heap_dump)

            self._set_phase("startup")
            url = target.start(env, run.path / TARGET_LOG)
            try:
                boot_s = target.wait_healthy(spec.startup_timeout_s)
            except TargetError as exc:
                ended = target.exited()
                if ended is not None and ended.oom_killed:
                    raise TargetDied(True, ended.returncode, "startup") from None
                raise TargetError(
                    f"{exc}\n--- {TARGET_LOG} (tail) ---\n{run.tail(TARGET_LOG)}"
                ) from None
            run.event("target-ready", url=url, boot_s=round(boot_s, 2), pids=target.pids())
            run.update(target_backend=target.describe())
            target_limits = read_limits(target.pids())  # what a resource leak runs into
            if target_limits:
                run.update(target_limits=target_limits)

            endpoints = spec.memory_endpoints
            self.memory_headers = memory_headers(endpoints, env) if endpoints else {}
            app_stats = (
                AppStats(url + endpoints.stats, headers=self.memory_headers)
                if endpoints and endpoints.stats
                else None
            )
            locust: LocustProcess | None = None
            sampler = self.sampler = Sampler(
                run,
                target,
                self.scenario.sample_interval_s,
                lambda: self.phase,
                lambda: locust.progress() if locust else None,
                app_stats,
            )
            if endpoints is not None:
                check_monitoring(run, url, endpoints, headers=self.memory_headers)
            startup = sampler.tick()
            if startup is not None:
                run.update(startup={"working_set": startup.working_set, "rss": startup.rss})
            if app_stats is not None and app_stats.last_problem:
                self.display.warning(f"the app's stats: {app_stats.last_problem}")
                run.event("app-stats-problem", problem=app_stats.last_problem)
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
            self._follow_load(run, target, locust, snapshots)

            self._cleanup_phase(run, target, url, snapshots)
            self._set_phase("shutdown")
            sampler.stop()
            if self.scenario.shape == "stress":
                run.update(stress=knee(run.path, self.stages))
            stop_s = memray_run.STOP_TIMEOUT_S if profiled else 15.0
            exit_state = target.stop(stop_s)
            run.event("target-stopped", returncode=exit_state.returncode if exit_state else None)
            if profiled:
                memray_run.finish(run, self.display, self.draw_flamegraph)
            return "completed", ExitCode.OK, {}

    # -- the load ----------------------------------------------------------------------------
    def _watch(self, target: Target) -> None:
        """Polled while the run waits: what ends it early raises."""
        self.signals.check()
        if self.sampler is not None and self.sampler.fatal is not None:
            raise RunDirectoryUnwritable(
                f"the run directory takes no more writes: {self.sampler.fatal}"
            )
        ended = target.exited()
        if ended is not None:
            raise TargetDied(ended.oom_killed, ended.returncode, self.phase)
        for kind, stub in self.upstreams:
            if stub.process.poll() is not None:
                raise UpstreamDied(
                    f"the {kind} upstream exited (code {stub.process.returncode}) during "
                    f"{self.phase}: the load after that measured the target's errors"
                )

    def _follow_load(
        self, run: RunDirectory, target: Target, locust: LocustProcess, snaps: HeapSnapshots
    ) -> None:
        """Follow Locust through its stages. The heap is snapshot at the warm-up's end and the
        load's, never between load phases: a snapshot leaves memory behind (a few MiB of
        allocator arenas) that every window after it would read as growth (a clean nightly
        run's RSS stepped ~6 MiB across its cycles). The warm-up's snapshot is taken before the
        phase changes, the others after, so no snapshot's samples are a judged window's."""
        current: int | None = None
        started = time.monotonic()
        ruled_out = False
        while locust.running() and not ruled_out:
            self._watch(target)
            progress = locust.progress()
            stage = progress.stage if progress else None
            if stage is not None and stage != current:
                previous, current = current, stage
                warmed_up = previous is not None and self.stages[previous].phase == "warm-up"
                if previous is not None and warmed_up:
                    self._snapshot(snaps, target, f"{previous + 1:02d}-warm-up-end")
                self._set_phase(self.stages[stage].phase)
                if previous is not None and not warmed_up:
                    self._stage_ended(run, target, previous)
                if self.phase.startswith("load"):
                    self.looks.load_began(time.monotonic())
            if self.looks.due(time.monotonic()):
                ruled_out = self.looks.take(run)
            time.sleep(0.1)
        returncode = locust.stop()
        self._watch(target)
        last, planned_s = len(self.stages) - 1, sum(stage.duration_s for stage in self.stages)
        short = time.monotonic() - started < planned_s - 1.0
        if ruled_out and current is not None:
            self.display.message(f"a leak is ruled out at look {self.looks.taken}: the load ends")
        elif returncode != 0 or current is None or (current < last and short):
            seen = "no stage" if current is None else f"stage {current + 1} of {len(self.stages)}"
            raise LoadError(
                f"Locust exited with code {returncode} at {seen}, before the scenario's end "
                f"(see locust.log: {run.tail(LOCUST_LOG, 3)!r})"
            )
        # the load is over: the last snapshot's samples are the cleanup's, not the window's end
        self._set_phase("cleanup")
        self._snapshot(snaps, target, f"{current + 1:02d}-{self.stages[current].phase}-end")

    def _stage_ended(self, run: RunDirectory, target: Target, index: int) -> None:
        """Before an idle, the app is asked to collect its garbage (its caches stay)."""
        stage = self.stages[index]
        following = self.stages[index + 1] if index + 1 < len(self.stages) else None
        if following is not None and following.phase == stage.phase:
            return  # a spike's sub-stages: one phase
        if following is not None and following.phase.startswith("idle"):
            self._ask_cleanup(run, target.url, clear_cache=False)
            self._watch(target)

    def _cleanup_phase(
        self, run: RunDirectory, target: Target, url: str, snaps: HeapSnapshots
    ) -> None:
        self._set_phase("cleanup")
        self._ask_cleanup(run, url)
        deadline = time.monotonic() + self.scenario.cleanup_s
        while time.monotonic() < deadline:
            self._watch(target)
            time.sleep(0.1)
        self._snapshot(snaps, target, f"{len(self.stages) + 1:02d}-after-cleanup")

    def _ask_cleanup(self, run: RunDirectory, url: str, *, clear_cache: bool = True) -> None:
        request_cleanup(
            run,
            url,
            self.settings.target.memory_endpoints,
            self.scenario.sample_interval_s,
            headers=self.memory_headers,
            agent_gc=self.agent_gc,
            clear_cache=clear_cache,
        )

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
