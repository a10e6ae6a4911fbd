"""Memory (and CPU) cgroups created under the harness's own cgroup, on cgroup v1 or v2.

The limit is a hard one, swap is off, and the readings are the ones a container platform acts
on: working set = usage - inactive file; OOM kills come from the kernel's own counter."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CFS_PERIOD_US = 100_000


class CgroupError(RuntimeError):
    """No writable memory cgroup here; the message says what to do instead."""


@dataclass(frozen=True)
class CgroupReading:
    usage_bytes: int
    working_set_bytes: int
    peak_bytes: int
    limit_bytes: int
    shmem_bytes: int
    oom_kills: int
    anon_bytes: int = 0  # anonymous memory: with shmem, what the container cannot give back


def _own_path(controller: str | None, proc_cgroup: str) -> str | None:
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        if controller is None and controllers == "":
            return path
        if controller is not None and controller in controllers.split(","):
            return path
    return None


def _read_kv(path: Path) -> dict[str, int]:
    values: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                values[key] = int(value)
    return values


def _read_int(path: Path, default: int = 0) -> int:
    try:
        text = path.read_text().strip()
    except OSError:
        return default
    return (1 << 63) - 1 if text == "max" else int(text)


class Cgroup:
    """One child cgroup. Create with `Cgroup.create`, always `remove()` (it kills what is left)."""

    def __init__(self, version: int, memory_dir: Path, cpu_dir: Path | None) -> None:
        self.version = version
        self.memory_dir = memory_dir
        self.cpu_dir = cpu_dir
        self.cpu_limited = False
        self._peak_seen = 0

    @classmethod
    def create(
        cls,
        name: str,
        memory_limit_bytes: int,
        cpus: float | None = None,
        root: Path = CGROUP_ROOT,
        proc_cgroup: str | None = None,
    ) -> Cgroup:
        proc_cgroup = (
            proc_cgroup if proc_cgroup is not None else Path("/proc/self/cgroup").read_text()
        )
        v1_memory = _own_path("memory", proc_cgroup)
        if v1_memory is not None and (root / "memory").is_dir():
            group = cls._create_v1(root, v1_memory, name, proc_cgroup)
        else:
            v2_path = _own_path(None, proc_cgroup)
            if v2_path is None or not (root / "cgroup.controllers").exists():
                raise CgroupError(
                    "no memory cgroup controller found under /sys/fs/cgroup; "
                    "use --backend docker or --backend process"
                )
            group = cls._create_v2(root, v2_path, name)
        try:
            group._limit(memory_limit_bytes, cpus)
        except OSError as exc:
            group.remove()
            raise CgroupError(f"cannot set limits on {group.memory_dir}: {exc.strerror}") from exc
        return group

    @classmethod
    def owned_by_dead_harnesses(
        cls, prefix: str, root: Path = CGROUP_ROOT, proc_cgroup: str | None = None
    ) -> list[Cgroup]:
        """Sibling groups named `<prefix><pid>-...` whose harness (pid) is gone: what a
        harness killed with SIGKILL left behind, its target still running inside."""
        proc_cgroup = (
            proc_cgroup if proc_cgroup is not None else Path("/proc/self/cgroup").read_text()
        )
        v1_memory, cpu_own = _own_path("memory", proc_cgroup), _own_path("cpu", proc_cgroup)
        if v1_memory is not None and (root / "memory").is_dir():
            version, parent = 1, root / "memory" / v1_memory.lstrip("/")
            cpu_parent = root / "cpu" / cpu_own.lstrip("/") if cpu_own else None
        else:
            v2_path = _own_path(None, proc_cgroup)
            if v2_path is None:
                return []
            version, parent, cpu_parent = 2, root / v2_path.lstrip("/"), None
        found = []
        for directory in sorted(parent.glob(f"{prefix}*")):
            owner, dash, _ = directory.name[len(prefix) :].partition("-")
            if not (dash and owner.isdigit()) or _alive(int(owner)):
                continue
            cpu_dir = directory if version == 2 else None
            if cpu_parent is not None and (cpu_parent / directory.name).is_dir():
                cpu_dir = cpu_parent / directory.name
            found.append(cls(version, directory, cpu_dir))
        return found

    @classmethod
    def _create_v1(cls, root: Path, own: str, name: str, proc_cgroup: str) -> Cgroup:
        memory_dir = root / "memory" / own.lstrip("/") / name
        _mkdir(memory_dir)
        cpu_dir: Path | None = None
        cpu_own = _own_path("cpu", proc_cgroup)
        if cpu_own is not None and (root / "cpu").is_dir():
            candidate = root / "cpu" / cpu_own.lstrip("/") / name
            with contextlib.suppress(CgroupError):
                _mkdir(candidate)
                cpu_dir = candidate
        return cls(1, memory_dir, cpu_dir)

    @classmethod
    def _create_v2(cls, root: Path, own: str, name: str) -> Cgroup:
        parent = root / own.lstrip("/")
        subtree = parent / "cgroup.subtree_control"
        enabled = subtree.read_text().split() if subtree.exists() else []
        for controller in ("memory", "cpu"):
            if controller not in enabled:
                try:
                    subtree.write_text(f"+{controller}")
                except OSError as exc:
                    if controller == "memory":
                        raise CgroupError(
                            f"cannot enable the memory controller in {parent} ({exc.strerror}); "
                            "run as root or in a delegated cgroup (systemd-run --user --scope -p "
                            "Delegate=yes), or use --backend docker / --backend process"
                        ) from exc
        directory = parent / name
        _mkdir(directory)
        return cls(2, directory, directory)

    def _limit(self, memory_limit_bytes: int, cpus: float | None) -> None:
        if self.version == 1:
            (self.memory_dir / "memory.limit_in_bytes").write_text(str(memory_limit_bytes))
            memsw = self.memory_dir / "memory.memsw.limit_in_bytes"
            if memsw.exists():
                memsw.write_text(str(memory_limit_bytes))
            with contextlib.suppress(OSError):
                (self.memory_dir / "memory.swappiness").write_text("0")
        else:
            (self.memory_dir / "memory.max").write_text(str(memory_limit_bytes))
            with contextlib.suppress(OSError):
                (self.memory_dir / "memory.swap.max").write_text("0")
        if cpus is not None and self.cpu_dir is not None:
            quota = int(cpus * CFS_PERIOD_US)
            with contextlib.suppress(OSError):
                if self.version == 1:
                    (self.cpu_dir / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
                    (self.cpu_dir / "cpu.cfs_quota_us").write_text(str(quota))
                else:
                    (self.cpu_dir / "cpu.max").write_text(f"{quota} {CFS_PERIOD_US}")
                self.cpu_limited = True

    # -- membership --------------------------------------------------------------------------
    def procs_files(self) -> list[Path]:
        files = [self.memory_dir / "cgroup.procs"]
        if self.cpu_dir is not None and self.cpu_dir != self.memory_dir:
            files.append(self.cpu_dir / "cgroup.procs")
        return files

    def add_pid(self, pid: int) -> None:
        for procs in self.procs_files():
            procs.write_text(str(pid))

    def join_self(self) -> None:
        """For a child between fork and exec (subprocess preexec_fn): no allocation escapes."""
        self.add_pid(os.getpid())

    def pids(self) -> list[int]:
        try:
            text = (self.memory_dir / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    # -- readings ----------------------------------------------------------------------------
    def read(self) -> CgroupReading:
        stat = _read_kv(self.memory_dir / "memory.stat")
        if self.version == 1:
            usage = _read_int(self.memory_dir / "memory.usage_in_bytes")
            peak = _read_int(self.memory_dir / "memory.max_usage_in_bytes")
            limit = _read_int(self.memory_dir / "memory.limit_in_bytes")
            inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
            shmem = stat.get("total_shmem", stat.get("shmem", 0))
            anon = stat.get("total_rss", stat.get("rss", 0))
            oom = _read_kv(self.memory_dir / "memory.oom_control").get("oom_kill", 0)
        else:
            usage = _read_int(self.memory_dir / "memory.current")
            peak = _read_int(self.memory_dir / "memory.peak", default=0)
            limit = _read_int(self.memory_dir / "memory.max")
            inactive = stat.get("inactive_file", 0)
            shmem = stat.get("shmem", 0)
            anon = stat.get("anon", 0)
            oom = _read_kv(self.memory_dir / "memory.events").get("oom_kill", 0)
        self._peak_seen = max(self._peak_seen, usage, peak)
        return CgroupReading(
            usage_bytes=usage,
            working_set_bytes=max(usage - inactive, 0),
            peak_bytes=self._peak_seen,
            limit_bytes=limit,
            shmem_bytes=shmem,
            oom_kills=oom,
            anon_bytes=anon,
        )

    # -- teardown ----------------------------------------------------------------------------
    def kill_all(self, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.pids() and time.monotonic() < deadline:
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    def remove(self) -> None:
        """Kill what is left inside, then remove the directories (retrying while the kernel
        finishes tearing the processes down)."""
        self.kill_all()
        for directory in {self.memory_dir, *([self.cpu_dir] if self.cpu_dir else [])}:
            for _ in range(100):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY:
                        raise
                    time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mkdir(directory: Path) -> None:
    try:
        directory.mkdir(exist_ok=False)
    except FileExistsError:
        raise CgroupError(f"{directory} already exists (left by another run?)") from None
    except OSError as exc:
        raise CgroupError(
            f"cannot create {directory} ({exc.strerror}); run as root, or in a delegated "
            "cgroup, or use --backend docker / --backend process"
        ) from exc
