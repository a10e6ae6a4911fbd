"""What sampling costs: harness CPU per sample and per second at 1 s and 0.2 s intervals,
with and without the app's stats endpoint, on the bundled service idling in its cgroup.

    .venv/bin/python benchmarks/sampler_cost.py [--seconds 20]

Also reports the CPU the service spent answering the stats endpoint (the part of sampling
that the target pays for)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "test")]

from support.service import target_env  # noqa: E402

from harness.rundir import RunDirectory  # noqa: E402
from harness.sample.probes import AppStats  # noqa: E402
from harness.sample.sampler import Sampler  # noqa: E402
from harness.target.base import Target  # noqa: E402
from harness.target.local import CgroupTarget, ProcessTarget  # noqa: E402
from harness.target.spec import TargetSpec  # noqa: E402
from harness.upstream.process import StubProcess  # noqa: E402


def target_cpu(target: Target) -> float:
    import psutil

    times = psutil.Process(target.pids()[0]).cpu_times()
    return times.user + times.system


def measure(target: Target, out: Path, interval: float, seconds: float, app: bool) -> str:
    run = RunDirectory.create(out, f"cost-{interval}-{app}", {})
    stats = AppStats(target.url + "/api/v1/memory/stats") if app else None
    sampler = Sampler(run, target, interval, lambda: "idle", lambda: None, stats)
    service_before = target_cpu(target)
    sampler.start()
    time.sleep(seconds)
    sampler.stop()
    run.close()
    cost = sampler.cost
    service = target_cpu(target) - service_before
    return (
        f"interval {interval:>4} s  app stats {'on ' if app else 'off'}  "
        f"samples {cost.samples:>4}  "
        f"harness {cost.cpu_ms_per_sample:5.2f} ms CPU/sample = {100 * cost.cpu_s / seconds:4.1f}% "
        f"of a core  (wall {1000 * cost.wall_s / max(cost.samples, 1):5.1f} ms/sample)  "
        f"service {100 * service / seconds:4.1f}% of a core"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    spec = TargetSpec()
    with StubProcess() as stub, tempfile.TemporaryDirectory() as tmp:
        env = target_env(stub.url, stub.api_key)
        try:
            target: Target = CgroupTarget(spec, 2 << 30, 1.0)
        except Exception as exc:
            print(f"no cgroup ({exc}); process backend")
            target = ProcessTarget(spec, None, None)
        with target:
            target.start(env, Path(tmp) / "target.log")
            target.wait_healthy(60)
            print(f"backend {target.backend}")
            for interval in (1.0, 0.2):
                for app in (False, True):
                    print(measure(target, Path(tmp), interval, args.seconds, app), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
