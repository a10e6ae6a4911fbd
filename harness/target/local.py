"""Targets that run the service as a child process on this machine: `process` (no limit) and
`cgroup` (the embedded default: a memory cgroup with a hard limit, no swap, and a CPU quota)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from harness.lifetime import die_with_parent
from harness.target import janitor
from harness.target.base import ContainerMemory, Limits, Target, TargetError, TargetExit
from harness.target.cgroup_fs import Cgroup, CgroupError
from harness.target.spec import TargetSpec, expand


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class ProcessTarget(Target):
    """A plain child process in its own session; nothing limits its memory."""

    backend = "process"

    def __init__(self, spec: TargetSpec, memory_limit: int | None, cpus: float | None) -> None:
        super().__init__(spec, memory_limit, cpus)
        self.process: subprocess.Popen[bytes] | None = None
        self._exit: TargetExit | None = None

    def _preexec(self) -> None:
        """Runs in the child between fork and exec."""
        die_with_parent()

    def start(self, env: Mapping[str, str], log_path: Path) -> str:
        port = str(free_port())
        values = {"port": port, "python": sys.executable}
        command = [expand(part, values) for part in self.spec.command]
        full_env = {**os.environ, **{k: expand(v, values) for k, v in env.items()}}
        self.url = f"http://127.0.0.1:{port}"
        with log_path.open("ab") as log:
            try:
                self.process = subprocess.Popen(
                    command,
                    cwd=self.spec.workdir,
                    env=full_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=self._preexec,
                    start_new_session=True,  # our Ctrl-C is not its Ctrl-C: we stop it ourselves
                )
            except OSError as exc:
                raise TargetError(f"cannot start {command[0]!r}: {exc.strerror}") from exc
        return self.url

    def exited(self) -> TargetExit | None:
        if self._exit is not None:
            return self._exit
        if self.process is None or self.process.poll() is None:
            return None
        self._exit = TargetExit(self.process.returncode, self._oom_killed())
        return self._exit

    def _oom_killed(self) -> bool:
        return False  # no limit here: an OOM kill would be the machine's, not ours to judge

    def stop(self, timeout_s: float = 15.0) -> TargetExit | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.Signals[self.spec.stop_signal])
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._kill_tree()
                self.process.wait()
        return self.exited()

    def _kill_tree(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.process.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    child.kill()
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self._kill_tree()
            self.process.wait()

    def pids(self) -> list[int]:
        if self.process is None or self.process.poll() is not None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root.pid, *(child.pid for child in root.children(recursive=True))]
        except psutil.Error:
            return []

    def signal_heap_dump(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        self.process.send_signal(signal.SIGUSR2)
        return True

    def limits(self) -> Limits:
        return Limits(
            None,
            None,
            enforced_memory=False,
            enforced_cpu=False,
            notes=["process backend: NO memory or CPU limit is enforced"],
        )


CGROUP_PREFIX = "leak-harness-"  # + the harness's pid: a group whose harness died is an orphan


def _remove_orphans() -> None:
    """A harness killed with SIGKILL cannot remove its cgroup; the next one does, with the
    target that was left running in it (started by a harness, so ours to stop)."""
    for orphan in Cgroup.owned_by_dead_harnesses(CGROUP_PREFIX):
        with contextlib.suppress(OSError):
            orphan.remove()


class CgroupTarget(ProcessTarget):
    """The child process inside a fresh memory cgroup under the harness's own."""

    backend = "cgroup"

    def __init__(self, spec: TargetSpec, memory_limit: int | None, cpus: float | None) -> None:
        super().__init__(spec, memory_limit, cpus)
        if memory_limit is None:
            raise TargetError("the cgroup backend needs a memory limit")
        try:
            _remove_orphans()
            self.cgroup = Cgroup.create(
                f"{CGROUP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}", memory_limit, cpus
            )
        except CgroupError as exc:
            from harness.target.base import TargetUnavailable

            raise TargetUnavailable(str(exc)) from exc
        self._oom_at_start = self.cgroup.read().oom_kills
        self._removed = False
        self._janitor = janitor.start(self.cgroup)  # removes the cgroup if we are SIGKILLed

    def _preexec(self) -> None:
        self.cgroup.join_self()
        die_with_parent()

    def container_memory(self) -> ContainerMemory | None:
        if self._removed:
            return None
        return ContainerMemory.from_cgroup(self.cgroup.read(), self._oom_at_start)

    def _oom_killed(self) -> bool:
        """From the kernel's counter, not guessed from the exit code."""
        if self._removed:
            return False
        return self.cgroup.read().oom_kills > self._oom_at_start

    def pids(self) -> list[int]:
        return self.cgroup.pids() if not self._removed else []

    def cleanup(self) -> None:
        super().cleanup()
        if not self._removed:
            self.exited()  # read the OOM counter while the cgroup still exists
            self.cgroup.remove()
            self._removed = True
            janitor.stop(self._janitor)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "cgroup": str(self.cgroup.memory_dir)}

    def limits(self) -> Limits:
        notes = []
        if self.cpus is not None and not self.cgroup.cpu_limited:
            notes.append("the cpu controller is not writable here: no CPU quota enforced")
        return Limits(
            self.memory_limit,
            self.cpus if self.cgroup.cpu_limited else None,
            enforced_memory=True,
            enforced_cpu=self.cgroup.cpu_limited,
            notes=notes,
        )
