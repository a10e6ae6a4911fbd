"""A corpus service's own memory growth per request, measured without the harness: the
service booted as its config says (no sandbox, no heap agent, no Locust), a warm-up, then a
fixed number of requests from a few threads, and its RSS and open files read from /proc
before and after. This is the figure the harness's estimate is compared with.

    .venv/bin/python benchmarks/plain_driver.py CASE_DIR --variant leaky|fixed --python VENV_PY
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.lifetime import die_with_parent


@dataclass(frozen=True)
class Drive:
    """What the driver measured; bytes per request are over the measured requests answered."""

    variant: str
    requests: int
    failures: int
    seconds: float
    rss_after_warmup: int
    rss_end: int
    fds_after_warmup: int
    fds_end: int
    died: bool

    @property
    def rss_bytes_per_request(self) -> float:
        return (self.rss_end - self.rss_after_warmup) / max(self.requests - self.failures, 1)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "rss_bytes_per_request": round(self.rss_bytes_per_request, 1)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _request(conn: http.client.HTTPConnection, spec: dict[str, Any]) -> bool:
    path = str(spec["path"]).replace("{uuid}", uuid.uuid4().hex)
    body = spec.get("body")
    conn.request(
        spec.get("method", "GET"),
        path,
        body=body.encode() if isinstance(body, str) else None,
        headers=spec.get("headers") or {},
    )
    response = conn.getresponse()
    response.read()
    return response.status == 200


#: a service that has stopped answering (its fds used up) is not waited for request by request
GIVE_UP_AFTER_FAILURES_IN_A_ROW = 50


def send(port: int, specs: list[dict[str, Any]], count: int, concurrency: int) -> int:
    """Sends `count` requests over `concurrency` keep-alive connections; returns failures
    (the requests not sent once the service stopped answering count as failed)."""
    tickets = iter(range(count))
    lock = threading.Lock()
    failures = [0]
    in_a_row = [0]

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        cycle = itertools.islice(itertools.cycle(specs), offset % len(specs), None)
        while True:
            with lock:
                if in_a_row[0] >= GIVE_UP_AFTER_FAILURES_IN_A_ROW:
                    failures[0] += sum(1 for _ in tickets)
                if next(tickets, None) is None:
                    break
            spec = next(cycle)
            try:
                ok = _request(conn, spec)
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            with lock:
                failures[0] += not ok
                in_a_row[0] = 0 if ok else in_a_row[0] + 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures[0]


def _wait_healthy(port: int, path: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited during boot ({process.returncode})")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the service did not answer {path} within {timeout_s:.0f} s")


def drive(case_dir: Path, variant: str, python: Path) -> Drive:
    case = tomllib.loads((case_dir / "case.toml").read_text())
    target = tomllib.loads((case_dir / "leak-harness.toml").read_text())["target"]
    driver = case["driver"]
    port = _free_port()
    command = [
        part.replace("{port}", str(port)).replace("{python}", str(python))
        for part in target["command"]
    ]
    env = {
        **os.environ,
        "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "CORPUS_VARIANT": variant,
        **target.get("env", {}),
    }
    process = subprocess.Popen(
        command,
        cwd=case_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with_parent,  # a driver stopped outright leaves no service behind
    )
    try:
        _wait_healthy(port, target.get("health_path", "/health"), process, 60)
        specs = driver["requests"]  # [[driver.requests]]: what to send, in turn
        concurrency = int(driver.get("concurrency", 4))
        send(port, specs, int(driver.get("warmup_requests", 300)), concurrency)
        time.sleep(0.5)
        rss0, fds0 = _rss(process.pid), _fds(process.pid)
        started = time.monotonic()
        count = int(driver.get("measured_requests", 5000))
        failures = send(port, specs, count, concurrency)
        seconds = time.monotonic() - started
        time.sleep(0.5)
        died = process.poll() is not None
        rss1 = 0 if died else _rss(process.pid)
        fds1 = 0 if died else _fds(process.pid)
        return Drive(variant, count, failures, round(seconds, 1), rss0, rss1, fds0, fds1, died)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case_dir", type=Path)
    parser.add_argument("--variant", choices=("leaky", "fixed"), required=True)
    parser.add_argument("--python", type=Path, default=Path(sys.executable))
    args = parser.parse_args(argv)
    print(json.dumps(drive(args.case_dir.resolve(), args.variant, args.python).to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
