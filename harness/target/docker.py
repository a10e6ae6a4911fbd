"""The `docker` backend: the service in a container with mem_limit = memswap_limit (no swap)
and a CPU quota, as on the container platform the service ships to.

Networking: the container runs with `network_mode="host"`, listening on a free port on
127.0.0.1 (the target's `command` with `{port}`; `{python}` is the image's `python`). Why:
the fake upstreams the harness boots listen on the host's 127.0.0.1, and with host networking
their URLs work unchanged inside the container; all traffic stays on loopback; and the engine
needs no bridge or iptables rules (scripts/docker_setup.sh starts dockerd without them). The
price: ports are the host's, hence the free port. An empty `command` runs the image's own
CMD, which must then listen on `container_port`.

Readings come from the container's memory cgroup on the host, found from its main pid's
/proc/<pid>/cgroup (v1 or v2), read like the cgroup backend's; when the engine's processes
are not visible here (a VM, a remote engine) they come from the stats API, and there are no
pids. The image's HEALTHCHECK is switched off: a probe process every 30 s would show up in
the memory series; the harness polls /health itself. /dev/shm gets the memory limit as its
size, so tmpfs leaks meet the memory limit, as on the host, not docker's 64 MiB default.

No container is ever left behind: the name is fixed before it is created, `cleanup()`
removes it by name whatever happened (with SIGINT/SIGTERM held back while it does), and a
new target removes containers whose harness process died without cleaning up."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from harness.target.base import (
    ContainerMemory,
    Limits,
    Target,
    TargetError,
    TargetExit,
    TargetUnavailable,
)
from harness.target.cgroup_fs import Cgroup
from harness.target.docker_image import ensure_image
from harness.target.local import free_port
from harness.target.spec import TargetSpec, expand

if TYPE_CHECKING:
    from docker.models.containers import Container

OWNER_LABEL = "leak-harness.owner"  # hostname:pid of the harness that created the container
RUN_LABEL = "leak-harness.run"


def find_cgroup(pid: int, container_id: str, proc: Path = Path("/proc")) -> Cgroup | None:
    """The memory cgroup holding `pid`, if it is this container's (its path names the id)."""
    try:
        lines = (proc / str(pid) / "cgroup").read_text().splitlines()
        mounts = (proc / "self" / "mountinfo").read_text().splitlines()
    except OSError:
        return None
    paths = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        paths["v2" if controllers == "" else controllers] = path
    for mount in mounts:
        fields = mount.split()
        fstype = fields[fields.index("-") + 1]
        root, point, options = fields[3], Path(fields[4]), fields[-1].split(",")
        if fstype == "cgroup" and "memory" in options:
            path, version = next((p for c, p in paths.items() if "memory" in c.split(",")), ""), 1
        elif fstype == "cgroup2" and (point / "cgroup.controllers").is_file():
            if "memory" not in (point / "cgroup.controllers").read_text().split():
                continue
            path, version = paths.get("v2", ""), 2
        else:
            continue
        if container_id in path and path.startswith(root):
            directory = point / path[len(root) :].lstrip("/")
            if (directory / "memory.stat").is_file():
                return Cgroup(version, directory, None)
    return None


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT/SIGTERM arriving inside are delivered after it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, _frame: pending.append(signum))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in pending[:1]:
            signal.raise_signal(signum)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class DockerTarget(Target):
    backend = "docker"

    def __init__(self, spec: TargetSpec, memory_limit: int | None, cpus: float | None) -> None:
        super().__init__(spec, memory_limit, cpus)
        try:
            import docker
            from docker.errors import DockerException
        except ImportError:
            raise TargetUnavailable(
                "the docker SDK is not installed: pip install docker (or use --backend cgroup)"
            ) from None
        try:
            self.client = docker.from_env(timeout=120)
            self.client.ping()
        except DockerException as exc:
            raise TargetUnavailable(
                f"no Docker engine answers ({str(exc)[:160]}); start one "
                "(scripts/docker_setup.sh does it here) or use --backend cgroup"
            ) from None
        self.name = f"leak-harness-{uuid.uuid4().hex[:12]}"
        self.image = ""
        self.container: Container | None = None
        self.cgroup: Cgroup | None = None
        self._main: psutil.Process | None = None
        self._exit: TargetExit | None = None
        self._attrs: dict[str, Any] = {}
        self._log_thread: threading.Thread | None = None
        self._removed = False
        self._remove_orphans()

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, env: Mapping[str, str], log_path: Path) -> str:
        from docker.errors import DockerException

        with log_path.open("a", encoding="utf-8") as log:
            self.image = ensure_image(
                self.client, self.spec, lambda line: print(line, file=log, flush=True)
            )
        port = free_port() if self.spec.command else self.spec.container_port
        values = {"port": str(port), "python": "python"}
        command = [expand(part, values) for part in self.spec.command] or None
        environment = {k: expand(v, values) for k, v in env.items()}
        environment.setdefault("PORT", str(port))
        volumes = self._mounts()
        try:
            container = self.client.containers.create(
                self.image,
                command=command,
                name=self.name,
                environment=environment,
                network_mode="host",
                mem_limit=self.memory_limit,
                memswap_limit=self.memory_limit,  # = mem_limit: no swap
                shm_size=self.memory_limit,
                nano_cpus=int(self.cpus * 1e9) if self.cpus else None,
                volumes=volumes,
                healthcheck={"test": ["NONE"]},
                stop_signal=self.spec.stop_signal,  # what `stop()` sends before SIGKILL
                labels={OWNER_LABEL: _owner(), RUN_LABEL: str(log_path.parent.resolve())},
                stdin_open=False,
                tty=False,
            )
            self.container = container
            container.start()
            container.reload()
        except DockerException as exc:
            raise TargetError(f"docker could not start {self.image}: {exc}") from exc
        self._attrs = container.attrs
        pid = int(self._attrs["State"].get("Pid") or 0)
        if pid:
            with contextlib.suppress(psutil.Error):
                self._main = psutil.Process(pid)
            self.cgroup = find_cgroup(pid, str(container.id))
        self._log_thread = threading.Thread(
            target=self._stream_logs, args=(log_path,), name="docker-logs", daemon=True
        )
        self._log_thread.start()
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def _mounts(self) -> dict[str, dict[str, str]]:
        """What the target reads (`readonly_dirs`: the heap agent) and writes into
        (`writable_dirs`: the heap dir, a profiler's capture), bound at the host's paths, so
        paths in its environment work unchanged."""
        volumes: dict[str, dict[str, str]] = {}
        for directory in self.spec.readonly_dirs:
            volumes[str(directory.resolve())] = {"bind": str(directory.resolve()), "mode": "ro"}
        for directory in self.spec.writable_dirs:
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o777)  # the image's user is not the harness's
            volumes[str(directory.resolve())] = {"bind": str(directory.resolve()), "mode": "rw"}
        return volumes

    def _stream_logs(self, log_path: Path) -> None:
        """Copies the container's output into the log as it comes, until it stops. Catches
        only I/O errors: this runs as a greenlet (Locust's gevent patches threading), where a
        signal handler's exception may land and must not be swallowed."""
        import urllib3
        from docker.errors import DockerException

        if self.container is None:
            return
        try:
            with log_path.open("ab") as log:
                for chunk in self.container.logs(stream=True, follow=True):
                    log.write(chunk)
                    log.flush()
        except (DockerException, OSError, urllib3.exceptions.HTTPError):
            return  # the container was removed under the stream: its end

    def exited(self) -> TargetExit | None:
        if self._exit is not None or self.container is None:
            return self._exit
        if self._main is not None:  # cheap while the main process lives: no API call
            with contextlib.suppress(psutil.Error):
                if self._main.is_running() and self._main.status() != psutil.STATUS_ZOMBIE:
                    return None
        state = self._state()
        if state is None:
            self._exit = TargetExit(None, False, "the container disappeared")
        elif state.get("Status") not in ("created", "running", "restarting"):
            code = state.get("ExitCode")
            oom = bool(state.get("OOMKilled"))
            deadline = time.monotonic() + 3.0
            while code == 137 and not oom and time.monotonic() < deadline:
                time.sleep(0.2)  # the engine may see the OOM event just after the exit
                oom = bool((self._state() or {}).get("OOMKilled"))
            self._exit = TargetExit(code, oom, str(state.get("Error") or ""))
            if self._log_thread is not None:
                self._log_thread.join(2.0)  # the log is complete before anyone reads its tail
        return self._exit

    def _state(self) -> dict[str, Any] | None:
        from docker.errors import DockerException, NotFound

        if self.container is None:
            return None
        try:
            self.container.reload()
        except NotFound:
            return None
        except DockerException:
            return {"Status": "running"}  # the engine is busy: ask again later
        self._attrs = self.container.attrs
        state: dict[str, Any] = self._attrs["State"]
        return state

    def stop(self, timeout_s: float = 15.0) -> TargetExit | None:
        from docker.errors import DockerException

        if self.container is None:
            return None
        if self.exited() is None:
            with contextlib.suppress(DockerException):
                self.container.stop(timeout=max(1, int(timeout_s)))  # stop_signal, then SIGKILL
            with contextlib.suppress(DockerException):
                self.container.wait(timeout=timeout_s + 10)
        return self.exited()

    def cleanup(self) -> None:
        from docker.errors import DockerException, NotFound

        if self._removed:
            return
        with _signals_held():
            with contextlib.suppress(DockerException):
                self.exited()  # read the OOM flag while the container still exists
            for _ in range(3):
                try:
                    self.client.api.remove_container(self.name, force=True, v=True)
                except NotFound:
                    break
                except DockerException:  # "removal already in progress", a busy engine
                    time.sleep(1.0)
                    continue
                break
            self._removed = True
            self._exit = self._exit or TargetExit(None, False, "removed")
            if self._log_thread is not None:
                self._log_thread.join(2.0)
            self.client.close()

    def _remove_orphans(self) -> None:
        """Containers of a harness on this host that died without its cleanup (SIGKILL)."""
        from docker.errors import DockerException

        host = socket.gethostname()
        with contextlib.suppress(DockerException):
            for container in self.client.containers.list(all=True, filters={"label": OWNER_LABEL}):
                owner_host, _, pid = str(container.labels.get(OWNER_LABEL, "")).rpartition(":")
                if owner_host == host and pid.isdigit() and not psutil.pid_exists(int(pid)):
                    with contextlib.suppress(DockerException):
                        container.remove(force=True, v=True)

    # -- readings -----------------------------------------------------------------------------
    def pids(self) -> list[int]:
        if self._removed or self.cgroup is None:
            return []
        return self.cgroup.pids()

    def container_memory(self) -> ContainerMemory | None:
        if self._removed or self.container is None:
            return None
        if self.cgroup is not None:
            if not (self.cgroup.memory_dir / "memory.stat").is_file():
                return None  # the container has ended and its cgroup with it
            reading = self.cgroup.read()
            if reading.usage_bytes == 0:
                return None
            return ContainerMemory.from_cgroup(reading)
        return self._stats_memory()

    def _stats_memory(self) -> ContainerMemory | None:
        """The engine's stats API (usage, inactive file, anon, shmem; no OOM counter)."""
        from docker.errors import DockerException

        if self.container is None:
            return None
        try:
            answer = self.container.stats(stream=False, one_shot=True)
        except DockerException:
            return None
        memory = (answer.get("memory_stats") if isinstance(answer, dict) else None) or {}
        stats, usage = memory.get("stats") or {}, int(memory.get("usage") or 0)
        if not usage:
            return None
        inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0))
        return ContainerMemory(
            usage=usage,
            working_set=max(usage - int(inactive), 0),
            peak=int(memory.get("max_usage") or usage),
            limit=memory.get("limit"),
            shmem=stats.get("total_shmem", stats.get("shmem")),
            anon=stats.get("total_rss", stats.get("anon")),
        )

    def signal_heap_dump(self) -> bool:
        from docker.errors import DockerException

        if self.container is None or self.exited() is not None:
            return False
        try:
            self.container.kill(signal="SIGUSR2")
        except DockerException:
            return False
        return True

    def limits(self) -> Limits:
        """What the engine says it enforces once running; what was asked before that."""
        host = self._attrs.get("HostConfig")
        memory: int | None
        swap: int | None
        if host:
            memory = int(host.get("Memory") or 0) or None
            swap = int(host.get("MemorySwap") or 0)
            nano = int(host.get("NanoCpus") or 0)
        else:
            memory = swap = self.memory_limit
            nano = int((self.cpus or 0) * 1e9)
        notes = []
        if memory is None:
            notes.append("docker backend: NO memory limit is enforced")
        elif swap != memory:
            notes.append(f"docker backend: swap is not limited (memswap_limit {swap})")
        return Limits(
            memory,
            nano / 1e9 if nano else None,
            enforced_memory=memory is not None,
            enforced_cpu=bool(nano),
            notes=notes,
        )

    def describe(self) -> dict[str, Any]:
        cgroup = str(self.cgroup.memory_dir) if self.cgroup else None
        return {
            **super().describe(),
            "container": self.name,
            "image": self.image,
            "network": "host",
            "cgroup": cgroup,
            "readings": "cgroup" if cgroup else "docker stats API",
        }
