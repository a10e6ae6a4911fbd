"""`run --profile memray`: the target runs under `memray run`, which records every native
allocation with its Python and C stack, so a leak tracemalloc cannot see (C extensions, ctypes,
SSL contexts) gets a stack too.

The target's command is rewritten, not the target: `{python} -m my_api --port {port}` becomes
`{python} -m memray run --native --follow-fork --aggregate -q -o <run>/memray/capture.bin -m
my_api --port {port}`. memray runs the module in the same process, so the target's pid and
cgroup are unchanged. The capture is written when memray's tracker exits, so the target is
stopped with SIGINT: it unwinds as a KeyboardInterrupt through the tracker, where SIGTERM's
default action (which uvicorn re-raises after its graceful shutdown) ends the process first.
`--aggregate` keeps one record per distinct stack (a file of a few MiB for any run length),
but in memory until exit: a target that is OOM-killed or SIGKILLed leaves no capture.

PYTHONMALLOC=malloc is set in the target's environment: with pymalloc, Python objects live in
arenas that memray sees as one big allocation each, never freed while any object in them lives,
and its leak report is then mostly arenas (memray's documentation requires it for --leaks)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from harness.analyze.memray import Draw, load_or_build
from harness.errors import UsageError
from harness.rundir import capture_path
from harness.target.docker_image import PROFILER_ARG
from harness.target.spec import TargetSpec

if TYPE_CHECKING:
    from harness.run.progress import Display
    from harness.rundir import RunDirectory
    from harness.target.base import Target

#: backends where the harness starts the target and can wrap its command (remote is not ours
#: to restart); in docker, memray must be installed in the image
BACKENDS = ("auto", "cgroup", "process", "docker")
#: graceful shutdown under memray: uvicorn's own (10 s in the bundled service) plus writing
#: the capture, which must not be cut short by the usual 15 s before SIGKILL
STOP_TIMEOUT_S = 60.0
#: memray with native stacks on every malloc boots the bundled service ~15x slower (20-45 s
#: on one CPU instead of 2); the target's own startup timeout is stretched at least this far
STARTUP_TIMEOUT_S = 180.0
#: native stacks, children followed, one record per stack (no --trace-python-allocators:
#: PYTHONMALLOC=malloc already shows every object, without pymalloc's bookkeeping)
MEMRAY_OPTIONS = ("--native", "--follow-fork", "--aggregate", "-q", "-f")
#: interpreter options that take a value (python -X dev -W error -m app)
_VALUED = {"-X", "-W", "-Q"}


class ProfileError(UsageError, ValueError):
    """Profiling cannot work with this target or backend; the message says why."""


def recorded(spec: TargetSpec) -> dict[str, object]:
    """What run.json says of a profiled run (`rundir.profiled_run` reads it back)."""
    return {"tool": "memray", "command": spec.command}


def _is_python(executable: str) -> bool:
    return executable == "{python}" or Path(executable).name.startswith("python")


def wrap_command(command: list[str], capture: Path) -> list[str]:
    """The target's command under `memray run`: the interpreter and its own options, then
    memray, then the module (-m), code (-c) or script with its arguments."""
    if not command or not _is_python(command[0]):
        raise ProfileError(
            "--profile memray needs a target command that starts the Python interpreter, e.g. "
            '["{python}", "-m", "my_api", "--port", "{port}"] (got '
            f"{command[:1] or 'an empty command'})"
        )
    index = 1
    while index < len(command) and command[index].startswith("-"):
        if command[index] in ("-m", "-c"):
            break
        index += 2 if command[index] in _VALUED else 1
    if index >= len(command):
        raise ProfileError("--profile memray: the target command runs no module, code or script")
    memray = ["-m", "memray", "run", *MEMRAY_OPTIONS, "-o", str(capture)]
    return [*command[:index], *memray, *command[index:]]


def _has_memray(interpreter: str, workdir: Path) -> bool:
    if interpreter == "{python}":
        return importlib.util.find_spec("memray") is not None
    try:
        done = subprocess.run(
            [interpreter, "-c", "import memray"], cwd=workdir, capture_output=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def check(spec: TargetSpec, backend: str) -> None:
    """Raise ProfileError unless this target can run under memray on this backend."""
    if backend not in BACKENDS:
        raise ProfileError(
            "--profile memray works with the cgroup, process and docker backends only "
            "(a remote service cannot be restarted under memray)"
        )
    if not spec.python:
        raise ProfileError("--profile memray needs a Python target ([target] python = true)")
    if os.name != "posix":
        raise ProfileError("--profile memray needs Linux or macOS")
    wrap_command(spec.command, Path("capture.bin"))  # raises when it cannot be wrapped
    if backend == "docker":
        return  # looked for in the image once it is built (docker_image.ensure_image)
    if not _has_memray(spec.command[0], spec.workdir):
        raise ProfileError(
            f"--profile memray: memray is not installed for {spec.command[0]} "
            "(pip install memray into the target's environment)"
        )


def profiled_spec(spec: TargetSpec, run_dir: Path) -> TargetSpec:
    """The target spec whose command runs under memray, writing into run_dir/memray/."""
    capture = capture_path(run_dir.resolve())  # the target runs in its workdir or a container
    capture.parent.mkdir(parents=True, exist_ok=True)
    env = {**spec.env, "PYTHONMALLOC": "malloc"}
    command = wrap_command(spec.command, capture)
    # uvicorn re-raises the SIGTERM it handled once it has shut down, which kills the process
    # before memray writes its capture; a re-raised SIGINT is a KeyboardInterrupt that unwinds
    # through memray's tracker instead
    return spec.model_copy(
        update={
            "command": command,
            "env": env,
            "stop_signal": "SIGINT",
            # the bundled Dockerfile installs memray into the image when asked (docker backend)
            "build_args": {**spec.build_args, PROFILER_ARG: "memray"},
            "writable_dirs": [*spec.writable_dirs, capture.parent],
            "startup_timeout_s": max(spec.startup_timeout_s, STARTUP_TIMEOUT_S),
        }
    )


def stop_gently(target: Target) -> None:
    """Whatever ends the run, memray gets the time to write its capture."""
    if target.exited() is None:
        target.stop(STOP_TIMEOUT_S)


def finish(run: RunDirectory, display: Display, draw: Draw | None = None) -> None:
    """The capture's stacks and (drawn by `draw`, a report the run is handed) flamegraph,
    while the run directory is fresh; analyze builds them too when they are missing."""
    capture = capture_path(run.path)
    if not capture.is_file():
        run.event("memray-capture", file=None)
        display.warning("memray wrote no capture (the target did not exit cleanly)")
        return
    run.event(
        "memray-capture", file=str(capture.relative_to(run.path)), bytes=capture.stat().st_size
    )
    display.message("reading the memray capture")
    report = load_or_build(run.path, display.warning, draw)
    if report is not None:
        run.event("memray-report", flamegraph=report.flamegraph, note=report.note)
