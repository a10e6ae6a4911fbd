"""The performance stage: a short version of the benchmarks in benchmarks/, each run as its own
process with small arguments, its figures printed to the terminal (also without `-s`).

Speed is shown by the figures, not tested: these tests assert only that each benchmark ran
and that every figure it prints is there and parses. The full runs and their recorded results
are in benchmarks/results/. The detection matrix (benchmarks/detection_matrix.py) is left out:
it measures accuracy, not speed, and even one cell is a few real runs."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.performance

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"

#: small arguments: about half a minute each, boot included
THROUGHPUT_ARGS = {"--requests": 60, "--repeats": 2, "--soak": 500}
SAMPLER_SECONDS = 3.0

ROUTES = (
    "extract-jd-keywords",
    "index-calculation",
    "index-cal-and-gap-analysis",
    "format-resume",
    "tailor-resume",
)
NUMBER = r"[0-9]+(?:\.[0-9]+)?"
MEMORY = re.compile(rf"RSS (?P<rss>{NUMBER}) MiB(?:, container working set (?P<ws>{NUMBER}) MiB)?")


def run_benchmark(
    script: str, args: list[str], timeout_s: float, capsys: pytest.CaptureFixture[str]
) -> str:
    """Run benchmarks/<script> with `args`, print what it printed (past pytest's capture),
    fail when it does not exit 0 in `timeout_s`; its stdout."""
    command = [sys.executable, str(BENCHMARKS / script), *args]
    started = time.monotonic()
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            # SIGINT first: the benchmark then removes its cgroup and stops its service
            process.send_signal(signal.SIGINT)
            try:
                stdout, stderr = process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            timed_out = True
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(f"\n==> benchmarks/{script} {' '.join(args)}  ({elapsed:.0f} s)")
        print(stdout.rstrip() or "(no output)")
        if process.returncode != 0 and stderr.strip():
            print(stderr.rstrip())
    if timed_out:
        pytest.fail(f"{script} did not finish in {timeout_s:.0f} s")
    assert process.returncode == 0, f"{script} exited with {process.returncode}:\n{stderr}"
    return stdout


def test_service_throughput_short(
    capsys: pytest.CaptureFixture[str], record_property: Callable[[str, object], None]
) -> None:
    """Requests per second per route on one CPU, startup memory, memory around a short soak."""
    args = [str(item) for pair in THROUGHPUT_ARGS.items() for item in pair]
    out = run_benchmark("service_throughput.py", args, 600, capsys)
    lines = out.splitlines()

    startup = next((line for line in lines if line.startswith("startup: ")), None)
    assert startup is not None, "no startup memory line"
    match = MEMORY.search(startup)
    assert match is not None, startup
    assert float(match["rss"]) > 0
    record_property("startup_rss_mib", float(match["rss"]))

    rates: dict[str, float] = {}
    repeats = THROUGHPUT_ARGS["--repeats"]
    for line in lines:
        fields = line.split()
        if fields and fields[0] in ROUTES:
            median, rounds = float(fields[1]), [float(f) for f in fields[2:]]
            assert len(rounds) == repeats, line
            assert median > 0 and all(r > 0 for r in rounds), line
            rates[fields[0]] = median
    assert sorted(rates) == sorted(ROUTES), f"routes without a figure: {set(ROUTES) - set(rates)}"
    for route, rate in rates.items():
        record_property(f"req_per_s.{route}", rate)

    soak = THROUGHPUT_ARGS["--soak"]
    after = re.search(
        rf"^after {soak} mixed requests \((?P<rate>{NUMBER}) req/s\): (?P<mem>.*)$", out, re.M
    )
    assert after is not None, "no soak line"
    assert float(after["rate"]) > 0
    before = next((line for line in lines if line.startswith("before soak: ")), "")
    for text in (before, after["mem"]):
        memory = MEMORY.search(text)
        assert memory is not None and float(memory["rss"]) > 0, text


SAMPLER_LINE = re.compile(
    rf"interval\s+(?P<interval>{NUMBER}) s\s+app stats (?P<app>on|off)\s+samples\s+(?P<samples>\d+)"
    rf"\s+harness\s+(?P<ms>{NUMBER}) ms CPU/sample = \s*(?P<harness>{NUMBER})% of a core"
    rf"\s+\(wall\s+(?P<wall>{NUMBER}) ms/sample\)\s+service\s+(?P<service>{NUMBER})% of a core"
)


def test_sampler_cost_short(
    capsys: pytest.CaptureFixture[str], record_property: Callable[[str, object], None]
) -> None:
    """The harness's CPU per sample at 1 s and 0.2 s, with and without the app's stats."""
    out = run_benchmark("sampler_cost.py", ["--seconds", str(SAMPLER_SECONDS)], 300, capsys)
    backend = re.search(r"^backend (\S+)$", out, re.M)
    assert backend is not None, "no backend line"
    record_property("backend", backend[1])

    seen = set()
    for match in SAMPLER_LINE.finditer(out):
        key = (float(match["interval"]), match["app"])
        seen.add(key)
        assert int(match["samples"]) >= 1, match[0]
        for name in ("ms", "harness", "wall", "service"):
            float(match[name])
        record_property(f"cpu_ms_per_sample.{key[0]}s.app_{key[1]}", float(match["ms"]))
    assert seen == {(1.0, "off"), (1.0, "on"), (0.2, "off"), (0.2, "on")}, seen
