from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import psutil

from harness.load.payloads import PayloadFactory, ResumeCase
from harness.target.cgroup_fs import Cgroup
from harness.target.spec import TargetSpec, expand

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServiceProcess:
    """`python -m resume_api` on a free loopback port, optionally inside a cgroup."""

    def __init__(
        self,
        upstream_url: str,
        upstream_key: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cgroup: Cgroup | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.cgroup = cgroup
        full_env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "AZURE_OPENAI_ENDPOINT": upstream_url,
            "AZURE_OPENAI_API_KEY": upstream_key,
            "TELEMETRY_FLUSH_INTERVAL_SECONDS": "1",
            "MEMORY_ENDPOINTS_ENABLED": "true",  # the readings below use them; off by default
            **(env or {}),
        }
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "resume_api", "--port", str(self.port)],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=cgroup.join_self if cgroup else None,
        )
        self._wait_healthy()

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _wait_healthy(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"resume_api exited at boot:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"resume_api not healthy after {timeout_s}s:\n{self.log_tail()}")

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- readings the leak tests compare ----------------------------------------------------
    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.url}/api/v1/memory/stats", timeout=10).json()[
            "data"
        ]
        return data

    def collect(self) -> None:
        httpx.post(f"{self.url}/api/v1/memory/gc", timeout=30).raise_for_status()

    def reading(self) -> dict[str, float]:
        """One comparable reading, after a full collection so garbage is not counted."""
        self.collect()
        stats = self.stats()
        proc = psutil.Process(self.pid)
        reading = {
            "rss": float(proc.memory_info().rss),
            "fds": float(proc.num_fds()),
            "tasks": float(stats["active_tasks"]),
            "heap": stats["python_heap"].get("traced_mb", 0.0) * 1024 * 1024,
        }
        if self.cgroup is not None:
            reading["cgroup"] = float(self.cgroup.read().working_set_bytes)
        return reading


Request = tuple[str, dict[str, Any]]


def target_env(stub_url: str, stub_key: str) -> dict[str, str]:
    """The default target's environment against the fake Azure OpenAI, without storage (the
    file routes answer 503; nothing measured here uses them)."""
    values = {"upstream.azure-openai": stub_url, "upstream.azure-openai.key": stub_key}
    values["upstream.azurite.key"] = ""
    return {k: expand(v, values) for k, v in TargetSpec().env.items()}


def api_requests(seed: int = 7, pool: int = 24) -> Callable[[], Request]:
    """An endless, seeded mix of keyword-extraction and index-calculation requests over a pool
    of realistic cases (like real traffic, many users send the same job description)."""
    factory = PayloadFactory(seed)
    cases: list[ResumeCase] = [factory.case() for _ in range(pool)]
    counter = itertools.count()

    def next_request() -> Request:
        n = next(counter)
        case = cases[n % pool]
        if n % 2 == 0:
            return "/api/v1/extract-jd-keywords", {"job_description": case.job_description}
        body = {"resume": case.resume_html, "job_description": case.job_description}
        return "/api/v1/index-calculation", {**body, "keywords": case.keywords}

    return next_request


async def _drive(
    url: str, count: int, concurrency: int, make: Callable[[], Request], latencies: list[float]
) -> Counter[int]:
    statuses: Counter[int] = Counter()
    remaining = iter(range(count))
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            for _ in remaining:
                path, body = make()
                sent = time.perf_counter()
                response = await client.post(path, json=body)
                latencies.append(time.perf_counter() - sent)
                statuses[response.status_code] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def drive_timed(
    url: str, count: int, make: Callable[[], Request], concurrency: int = 8
) -> tuple[Counter[int], list[float]]:
    """Statuses and each request's latency in seconds, `concurrency` requests in flight."""
    latencies: list[float] = []
    return asyncio.run(_drive(url, count, concurrency, make, latencies)), latencies


def drive(url: str, count: int, make: Callable[[], Request], concurrency: int = 8) -> Counter[int]:
    return drive_timed(url, count, make, concurrency)[0]
