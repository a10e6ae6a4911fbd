"""The cgroup's janitor: removes it if the harness that made it dies without doing so.

A harness killed with SIGKILL runs no cleanup. Its children get a parent-death signal, but
the cgroup directory they ran in stays behind until the next harness's orphan sweep. The
janitor is a small child outside the cgroup, holding the read end of a pipe whose write end
only the harness has: when the harness dies, however it dies, the pipe reads end-of-file and
the janitor kills what is left inside the cgroup and removes it. On a normal cleanup the
harness removes the cgroup itself, then closes the pipe: the janitor finds nothing to do.

Run as `python -m harness.target.janitor VERSION MEMORY_DIR [CPU_DIR]`; it imports only
the cgroup file layer, so it starts in tens of milliseconds and costs a few MiB outside the
measured cgroup."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from harness.target.cgroup_fs import Cgroup


def start(cgroup: Cgroup) -> subprocess.Popen[bytes]:
    """The janitor of `cgroup`; close its stdin (`stop`) once the cgroup is removed."""
    command = [sys.executable, "-m", "harness.target.janitor", str(cgroup.version)]
    command += [str(cgroup.memory_dir), *([str(cgroup.cpu_dir)] if cgroup.cpu_dir else [])]
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C to the harness's group is the harness's to handle
    )


def stop(janitor: subprocess.Popen[bytes]) -> None:
    """The cgroup is gone: let the janitor exit."""
    if janitor.stdin is not None:
        janitor.stdin.close()
    try:
        janitor.wait(5)
    except subprocess.TimeoutExpired:
        janitor.kill()
        janitor.wait()


def main(argv: list[str]) -> int:
    version, memory_dir = int(argv[0]), Path(argv[1])
    cpu_dir = Path(argv[2]) if len(argv) > 2 else None
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while os.read(0, 4096):  # nothing is ever written: this returns when the harness is gone
        pass
    if memory_dir.is_dir() or (cpu_dir is not None and cpu_dir.is_dir()):
        Cgroup(version, memory_dir, cpu_dir).remove()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
