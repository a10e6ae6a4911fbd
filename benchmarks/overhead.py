"""What measuring costs the service: its saturation throughput and latency with the harness's
sampler off, every 1 s and every 0.2 s, with tracemalloc off, 1 frame and 25 frames, and under
memray (`--profile memray`: native stacks, PYTHONMALLOC=malloc); then the harness's own CPU
and memory during a real run.

    .venv/bin/python benchmarks/overhead.py [--requests 1500] [--rounds 3] [--run-seconds 40]

The service runs in a 2 GiB cgroup with a 1-CPU quota (CPU-bound there at 8 connections, so
any CPU that measuring takes from it shows as lost throughput), the fake Azure OpenAI answers
without latency, and an asyncio httpx driver keeps 8 requests in flight. tracemalloc is
switched on the way the harness does it (its agent on PYTHONPATH, asked to start tracing after
boot, as at the end of a run's startup phase). Configurations are measured
in interleaved rounds, so a slow spell of this shared machine hits each alike; the figures are
medians over rounds, and the ratios are against the unmeasured service in the same rounds."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "test")]

from support.service import Request, api_requests, drive_timed, target_env  # noqa: E402

from harness.run import memray as memray_run  # noqa: E402
from harness.rundir import RunDirectory  # noqa: E402
from harness.sample.heap import HeapSnapshots, agent_env  # noqa: E402
from harness.sample.probes import AppStats  # noqa: E402
from harness.sample.sampler import Sampler  # noqa: E402
from harness.target.base import Target  # noqa: E402
from harness.target.local import CgroupTarget, ProcessTarget  # noqa: E402
from harness.target.spec import TargetSpec  # noqa: E402
from harness.upstream.process import StubProcess  # noqa: E402

MIB = 1024 * 1024
#: (tracemalloc frames, sampler interval or None for off); the harness's default is 1 frame
CONFIGS: list[tuple[int, float | None]] = [(0, None), (1, None), (1, 1.0), (1, 0.2), (25, None)]
MEMRAY = "under memray (native stacks), tracemalloc off"


@dataclass
class Round:
    rps: float
    p50_ms: float
    p95_ms: float


def _timed(url: str, count: int, make: Callable[[], Request], connections: int) -> Round:
    started = time.perf_counter()
    statuses, latencies = drive_timed(url, count, make, connections)
    elapsed = time.perf_counter() - started
    if set(statuses) != {200}:
        raise SystemExit(f"non-200 answers: {dict(statuses)}")
    cuts = statistics.quantiles(latencies, n=20)
    return Round(count / elapsed, 1000 * statistics.median(latencies), 1000 * cuts[18])


def boot(spec: TargetSpec, env: dict[str, str], log: Path) -> Target:
    try:
        target: Target = CgroupTarget(spec, 2 << 30, 1.0)
    except Exception as exc:  # say why, then measure without a limit
        print(f"no cgroup ({exc}); process backend, no CPU quota")
        target = ProcessTarget(spec, None, None)
    target.start(env, log)
    target.wait_healthy(spec.startup_timeout_s)
    return target


def measure_memray(base_env: dict[str, str], tmp: Path, requests: int) -> Round:
    """The service as `--profile memray` runs it (the capture is written and dropped)."""
    spec = memray_run.profiled_spec(TargetSpec(), Path(tempfile.mkdtemp(dir=tmp)))
    added = {key: value for key, value in spec.env.items() if key not in base_env}
    target = boot(spec, {**base_env, **added}, tmp / "target.log")
    try:
        make = api_requests()
        _timed(target.url, 300, make, 8)
        return _timed(target.url, requests, make, 8)
    finally:
        memray_run.stop_gently(target)
        target.cleanup()


def measure_round(
    base_env: dict[str, str], tmp: Path, requests: int, results: dict[str, list[Round]]
) -> None:
    spec = TargetSpec()
    make = api_requests()
    for frames in sorted({f for f, _ in CONFIGS}):
        env = dict(base_env)
        heap_dir = Path(tempfile.mkdtemp(dir=tmp))  # fresh: the agent marks tracing there
        if frames:
            env.update(agent_env(heap_dir, frames, None))
        target = boot(spec, env, tmp / "target.log")
        try:
            if frames and HeapSnapshots(heap_dir).request("start", target.signal_heap_dump) is None:
                raise SystemExit("the heap agent did not start tracing")
            _timed(target.url, 300, make, 8)  # warm caches and pools alike
            for config_frames, interval in CONFIGS:
                if config_frames != frames:
                    continue
                sampler = None
                if interval is not None:
                    run = RunDirectory.create(tmp / "runs", f"overhead-{frames}-{interval}", {})
                    stats = AppStats(target.url + "/api/v1/memory/stats")
                    sampler = Sampler(run, target, interval, lambda: "load", lambda: None, stats)
                    sampler.start()
                result = _timed(target.url, requests, make, 8)
                if sampler is not None:
                    sampler.stop()
                results[label(config_frames, interval)].append(result)
        finally:
            target.stop(15)
            target.cleanup()


def label(frames: int, interval: float | None) -> str:
    sampled = "sampler off" if interval is None else f"sampler {interval:g} s"
    traced = "tracemalloc off" if frames == 0 else f"tracemalloc {frames} frame(s)"
    return f"{traced}, {sampled}"


def harness_own_cost(seconds: int) -> str:
    """A real `leak-harness run` (steady, 8 users): the harness process's own CPU and peak RSS,
    and Locust's, polled from outside."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "harness", "run", "--scenario", "quick", "--quiet"]
        command += ["--duration", str(seconds), "--backend", "cgroup", "--out", tmp]
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
        harness = psutil.Process(process.pid)
        peak: dict[str, int] = defaultdict(int)
        cpu: dict[str, float] = {}
        while process.poll() is None:
            try:
                for proc in [harness, *harness.children(recursive=True)]:
                    name = "locust" if "locust" in " ".join(proc.cmdline()) else None
                    name = "harness" if proc.pid == harness.pid else name
                    if name is None:
                        continue
                    with proc.oneshot():
                        peak[name] = max(peak[name], proc.memory_info().rss)
                        times = proc.cpu_times()
                        cpu[name] = times.user + times.system
            except psutil.Error:
                pass
            time.sleep(0.5)
        wall = time.monotonic() - started
    return "\n".join(
        f"{name}: CPU {cpu.get(name, 0):.1f} s over {wall:.0f} s wall "
        f"= {100 * cpu.get(name, 0) / wall:.1f}% of a core, peak RSS {peak[name] / MIB:.0f} MiB"
        for name in ("harness", "locust")
    )


def _row(name: str, rounds: list[Round], reference: float) -> str:
    """One line of the table: medians over the rounds, then each round's req/s."""
    rps = statistics.median(r.rps for r in rounds)
    return (
        f"{name:<42} {rps:7.1f} {rps / reference:7.3f} "
        f"{statistics.median(r.p50_ms for r in rounds):7.1f} "
        f"{statistics.median(r.p95_ms for r in rounds):7.1f}  "
        + " ".join(f"{r.rps:.0f}" for r in rounds)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="requests per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--run-seconds", type=int, default=40, help="load phase of the real run")
    parser.add_argument("--no-memray", action="store_true", help="skip the memray rows")
    args = parser.parse_args()
    results: dict[str, list[Round]] = defaultdict(list)
    with StubProcess() as stub, tempfile.TemporaryDirectory() as tmp:
        env = target_env(stub.url, stub.api_key)
        for number in range(1, args.rounds + 1):
            measure_round(env, Path(tmp), args.requests, results)
            if not args.no_memray:
                results[MEMRAY].append(measure_memray(env, Path(tmp), args.requests))
            print(f"round {number}/{args.rounds} done", flush=True)
    baseline = statistics.median(r.rps for r in results[label(0, None)])
    traced = statistics.median(r.rps for r in results[label(1, None)])
    print(f"\n{'configuration':<42} {'req/s':>7} {'vs off':>7} {'p50 ms':>7} {'p95 ms':>7}  rounds")
    for frames, interval in CONFIGS:
        reference = traced if interval is not None else baseline
        print(_row(label(frames, interval), results[label(frames, interval)], reference))
    if results[MEMRAY]:
        print(_row(MEMRAY, results[MEMRAY], baseline))
    print("('vs off': sampler rows against tracemalloc 1 frame without sampler, others against")
    print(" the service with nothing on)\n")
    print(harness_own_cost(args.run_seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
