"""Locust as a child process (headless), following the scenario's stages.

Locust runs on gevent and monkey-patches the standard library, so it never shares a process
with the harness. Its stats CSVs go into the run directory; its cumulative counts come back
through a small progress file (see locust_hooks)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.lifetime import die_with_parent
from harness.load.hook_env import PROGRESS_ENV, SCHEDULE_ENV
from harness.load.scenario import SCENARIO_DIR, Stage

#: loaded by Locust, never imported here: importing Locust monkey-patches the whole process
HOOKS_FILE = Path(__file__).with_name("locust_hooks.py")

DEFAULT_LOCUSTFILE = SCENARIO_DIR / "resume_api_locustfile.py"
LOCUST_LOG = "locust.log"  # in the run directory: Locust's own output


@dataclass(frozen=True)
class Progress:
    time: float
    requests: int
    failures: int
    users: int
    stage: int | None
    state: str
    cpu_s: float


class LocustProcess:
    def __init__(
        self,
        locustfile: Path,
        host: str,
        stages: list[Stage],
        run_dir: Path,
        csv_prefix: str,
        processes: int = 1,
        expect_workers: int = 0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.progress_path = run_dir / ".locust-progress.json"
        schedule = [[s.duration_s, s.users, s.spawn_rate] for s in stages]
        command = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            f"{locustfile},{HOOKS_FILE}",
            "--headless",
            "--host",
            host,
            "--csv",
            str(run_dir / csv_prefix),
            "--csv-full-history",
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--stop-timeout",
            "10",
            # failed requests are data (samples.csv counts them): a non-zero exit is Locust's own
            "--exit-code-on-error",
            "0",
        ]
        if processes > 1:
            command += ["--processes", str(processes)]
        if expect_workers > 0:  # remote workers join this master (see the README)
            command += ["--master", "--expect-workers", str(expect_workers)]
        self.log = (run_dir / LOCUST_LOG).open("ab")
        self.process = subprocess.Popen(
            command,
            env={
                **os.environ,
                **(env or {}),
                SCHEDULE_ENV: json.dumps(schedule),
                PROGRESS_ENV: str(self.progress_path),
            },
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def progress(self) -> Progress | None:
        try:
            data = json.loads(self.progress_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return Progress(
            time=float(data["time"]),
            requests=int(data["requests"]),
            failures=int(data["failures"]),
            users=int(data["users"]),
            stage=data.get("stage"),
            state=str(data.get("state", "")),
            cpu_s=float(data.get("cpu_s", 0.0)),
        )

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 15.0) -> int | None:
        """Stop the test (Locust writes its final stats on SIGTERM), then make sure."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # workers of --processes, if any
        self.log.close()
        return self.process.returncode

    def wait(self, timeout_s: float | None = None) -> int:
        return self.process.wait(timeout_s)
