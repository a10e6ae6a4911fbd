"""The fault matrix: each fault injected into a real `leak-harness run` (the bundled service,
the fault scenario, the cgroup sandbox). `test/integration/test_faults.py` asserts each row;
`benchmarks/fault_matrix.py` prints the table for benchmarks/RESULTS.md from the same list.
How a row is run and what it reports: support/fault_run.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from support.fault_run import ROOT, Fault, Harness, Inject, Outcome, run_fault, run_faults
from support.runs import sandbox_backend

__all__ = [
    "FAULTS",
    "ROOT",
    "Fault",
    "Outcome",
    "can_mount",
    "cgroups_work",
    "run_fault",
    "run_faults",
]


# -- the faults ------------------------------------------------------------------------------
def nothing(_harness: Harness) -> None:
    """No fault: the control row."""


def at_boot(signum: int) -> Inject:
    def inject(harness: Harness) -> None:
        harness.wait_phase("startup")
        time.sleep(0.3)
        harness.signal(signum)

    return inject


def under_load(signum: int) -> Inject:
    def inject(harness: Harness) -> None:
        harness.wait_phase("load-1")
        time.sleep(1.5)
        harness.signal(signum)

    return inject


def during_cleanup(signum: int, times: int) -> Inject:
    def inject(harness: Harness) -> None:
        harness.wait_phase("cleanup")
        for _ in range(times):
            harness.signal(signum)
            time.sleep(0.3)

    return inject


def pipe_reader_dies(then_sigint: bool) -> Inject:
    def inject(harness: Harness) -> None:
        harness.wait_phase("load-1")
        time.sleep(1.0)
        harness.close_output()
        if then_sigint:  # a CI cancel: the reader and the harness get it together
            harness.signal(signal.SIGINT)

    return inject


def sigkill_harness(harness: Harness) -> None:
    harness.wait_phase("load-1")
    time.sleep(1.0)
    harness.signal(signal.SIGKILL)


def kill_target(harness: Harness) -> None:
    pid = harness.target_pid()
    harness.wait_phase("load-1")
    time.sleep(1.0)
    os.kill(pid, signal.SIGKILL)


def kill_child(word: str) -> Inject:
    def inject(harness: Harness) -> None:
        harness.wait_phase("load-1")
        time.sleep(1.0)
        os.kill(harness.child_pid(word), signal.SIGKILL)

    return inject


def kill_upstream(harness: Harness) -> None:
    harness.wait_for(lambda e: e.get("event") == "upstream-ready")
    pid = next(e["pid"] for e in harness.events() if e.get("event") == "upstream-ready")
    harness.wait_phase("load-1")
    time.sleep(1.0)
    os.kill(int(pid), signal.SIGKILL)


def cgroups_work() -> bool:
    return sandbox_backend() == "cgroup"


def free_port_in_use() -> socket.socket:
    """A port bound and listening, for the port-clash fault."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


# -- what some faults need before the run ------------------------------------------------------
ODD_SERVICE = """
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = {"/stats": {"data": {"python_heap": 1, "process": "n/a"}}}.get(
            self.path, {"status": "ok"})
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_POST = do_GET
    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""

ODD_LOCUSTFILE = """
from locust import HttpUser, constant, task

class Visitor(HttpUser):
    wait_time = constant(0.05)

    @task
    def home(self):
        self.client.get("/health")
"""


def odd_stats_service(work: Path) -> list[str]:
    """A service we did not write, whose stats answer has another shape than the sampler's."""
    (work / "odd_service.py").write_text(ODD_SERVICE)
    (work / "odd_locustfile.py").write_text(ODD_LOCUSTFILE)
    (work / "odd.toml").write_text(
        "[target]\n"
        'name = "odd"\n'
        f'command = ["{{python}}", "{work / "odd_service.py"}", "{{port}}"]\n'
        "env = {}\n"
        "python = false\n"
        "upstreams = []\n"
        'leak_env = ""\n'
        '[target.memory_endpoints]\nstats = "/stats"\nhealth = ""\ngc = ""\nclear_cache = ""\n'
    )
    return ["--config", str(work / "odd.toml"), "--locustfile", str(work / "odd_locustfile.py")]


def failing_locustfile(work: Path) -> list[str]:
    (work / "broken_locustfile.py").write_text("raise ImportError('a locustfile that fails')\n")
    return ["--locustfile", str(work / "broken_locustfile.py")]


_held: list[socket.socket] = []


def port_clash(work: Path) -> list[str]:
    """The service's own port (fixed in its command) is taken by someone else."""
    holder = free_port_in_use()
    _held.append(holder)
    port = holder.getsockname()[1]
    (work / "clash.toml").write_text(
        '[target]\ncommand = ["{python}", "-m", "resume_api", "--port", "' + str(port) + '"]\n'
        "startup_timeout_s = 20\n"
    )
    return ["--config", str(work / "clash.toml")]


def release_port(_work: Path) -> None:
    while _held:
        _held.pop().close()


def _mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)


def unmount(work: Path) -> None:
    for name in ("readonly", "full"):
        if os.path.ismount(work / name):
            subprocess.run(["umount", "-l", str(work / name)], check=False)


def readonly_out(work: Path) -> list[str]:
    _mount_tmpfs(work / "readonly", "ro,size=1m")
    return ["--out", str(work / "readonly")]


#: fills during the load: the run directory of the fault scenario (target.log, Locust's
#: full-history CSVs, samples) passes this in a few seconds
FULL_DISK_BYTES = 160 * 1024


def full_disk_out(work: Path) -> list[str]:
    _mount_tmpfs(work / "full", f"size={FULL_DISK_BYTES}")
    return ["--out", str(work / "full")]


def can_mount() -> bool:
    return os.geteuid() == 0 and Path("/bin/mount").exists()


FAULTS = [
    Fault("none (control)", nothing, "completed", 0),
    Fault("SIGINT at boot", at_boot(signal.SIGINT), "interrupted", 130, samples=False),
    Fault("SIGTERM at boot", at_boot(signal.SIGTERM), "interrupted", 143, samples=False),
    Fault("SIGINT under load", under_load(signal.SIGINT), "interrupted", 130),
    Fault("SIGTERM under load", under_load(signal.SIGTERM), "interrupted", 143),
    Fault("SIGINT during cleanup", during_cleanup(signal.SIGINT, 1), "interrupted", 130),
    Fault("SIGINT twice during cleanup", during_cleanup(signal.SIGINT, 2), "interrupted", 130),
    Fault("SIGTERM twice during cleanup", during_cleanup(signal.SIGTERM, 2), "interrupted", 143),
    Fault("pipe reader dies", pipe_reader_dies(False), "interrupted", 141, pipe=True),
    Fault("SIGINT, pipe reader dies", pipe_reader_dies(True), "interrupted", 130, pipe=True),
    Fault("SIGKILL of the harness", sigkill_harness, "running", -9),
    Fault("target crashes under load", kill_target, "target-exited", 3),
    Fault(
        "target OOM-killed under load",
        nothing,
        "oom-killed",
        1,
        args=["--memory-limit", "160m", "--leak", "unbounded-cache:1MiB"],
        finding=("peak memory", "all memory leak tests pass"),  # OOM-killed after growing
    ),
    Fault(
        "target OOM-killed at boot",
        nothing,
        "oom-killed",
        1,
        args=["--memory-limit", "40m"],
        samples=False,
        finding=("peak memory",),
    ),
    Fault("Locust dies", kill_child("locust"), "error", 3),
    Fault("locustfile fails at import", nothing, "error", 3, prepare=failing_locustfile),
    Fault(
        "sampler: app stats of another shape",
        nothing,
        "completed",
        0,
        prepare=odd_stats_service,
        finding=("monitoring endpoints work",),  # its stats answer no usable sample: it is one
    ),
    Fault("upstream dies", kill_upstream, "error", 3),
    Fault(
        "--out unwritable",
        nothing,
        "none",
        2,
        prepare=readonly_out,
        teardown=unmount,
        samples=False,
        run_dir=False,
    ),
    Fault("disk full", nothing, "error", 3, prepare=full_disk_out, teardown=unmount),
    Fault(
        "port clash",
        nothing,
        "error",
        3,
        prepare=port_clash,
        teardown=release_port,
        samples=False,
    ),
]
