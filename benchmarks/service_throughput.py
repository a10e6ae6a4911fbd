"""Throughput of the bundled service per route on one CPU, its startup memory, and its memory
after 10k requests with no leak switch on.

    .venv/bin/python benchmarks/service_throughput.py [--requests 600] [--soak 10000]

The service runs in a 2 GiB memory cgroup with a 1-CPU quota (when this machine allows one),
the fake Azure OpenAI with no latency outside it, and an asyncio httpx driver with 8
connections. Figures are medians of --repeats rounds taken in one run."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "test")]

from support.service import Request, ServiceProcess, api_requests, drive  # noqa: E402

from harness.load.payloads import PayloadFactory  # noqa: E402
from harness.target.cgroup_fs import Cgroup, CgroupError  # noqa: E402
from harness.upstream.process import StubProcess  # noqa: E402

MIB = 1024 * 1024


def route_requests(seed: int = 11, pool: int = 16) -> dict[str, Callable[[], Request]]:
    factory = PayloadFactory(seed)
    cases = [factory.case() for _ in range(pool)]

    def cycling(build: Callable[[Any], Request]) -> Callable[[], Request]:
        counter = iter(range(1 << 62))
        return lambda: build(cases[next(counter) % pool])

    return {
        "extract-jd-keywords": cycling(
            lambda c: ("/api/v1/extract-jd-keywords", {"job_description": c.job_description})
        ),
        "index-calculation": cycling(
            lambda c: (
                "/api/v1/index-calculation",
                {
                    "resume": c.resume_html,
                    "job_description": c.job_description,
                    "keywords": c.keywords,
                },
            )
        ),
        "index-cal-and-gap-analysis": cycling(
            lambda c: (
                "/api/v1/index-cal-and-gap-analysis",
                {
                    "resume": c.resume_html,
                    "job_description": c.job_description,
                    "keywords": c.keywords,
                },
            )
        ),
        "format-resume": cycling(lambda c: ("/api/v1/format-resume", {"ocr_text": c.ocr_text})),
        "tailor-resume": cycling(
            lambda c: (
                "/api/v1/tailor-resume",
                {
                    "job_description": c.job_description,
                    "original_resume": c.resume_html,
                    "original_index": {"missing_keywords": c.keywords[:3]},
                },
            )
        ),
    }


def rate(url: str, count: int, make: Callable[[], Request]) -> float:
    started = time.perf_counter()
    statuses = drive(url, count, make)
    elapsed = time.perf_counter() - started
    if set(statuses) != {200}:
        raise SystemExit(f"non-200 answers: {dict(statuses)}")
    return count / elapsed


def memory(service: ServiceProcess) -> str:
    reading = service.reading()
    text = f"RSS {reading['rss'] / MIB:.1f} MiB"
    if "cgroup" in reading:
        text += f", container working set {reading['cgroup'] / MIB:.1f} MiB"
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="requests per route per round")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--soak", type=int, default=10000, help="mixed requests for the soak")
    args = parser.parse_args()

    try:
        cgroup: Cgroup | None = Cgroup.create(f"bench-{uuid.uuid4().hex[:8]}", 2 << 30, cpus=1.0)
    except CgroupError as exc:
        print(f"no cgroup ({exc}); running unconfined")
        cgroup = None
    try:
        with (
            StubProcess() as stub,
            ServiceProcess(
                stub.url,
                stub.api_key,
                Path("/tmp") / f"bench-{uuid.uuid4().hex[:6]}.log",
                {},
                cgroup,
            ) as service,
        ):
            limited = cgroup is not None and cgroup.cpu_limited
            print(f"service pid {service.pid}, CPU quota: {'1 CPU' if limited else 'none'}")
            print(f"startup: {memory(service)}")
            print(f"{'route':<28} {'req/s (median)':>15}  rounds")
            for route, make in route_requests().items():
                drive(service.url, 50, make)  # warm caches and connections
                rounds = [rate(service.url, args.requests, make) for _ in range(args.repeats)]
                shown = " ".join(f"{r:.0f}" for r in rounds)
                print(f"{route:<28} {statistics.median(rounds):>15.1f}  {shown}")
            service.collect()
            print(f"before soak: {memory(service)}")
            mixed = api_requests()
            soak_rate = rate(service.url, args.soak, mixed)
            print(f"after {args.soak} mixed requests ({soak_rate:.0f} req/s): {memory(service)}")
    finally:
        if cgroup is not None:
            cgroup.remove()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
