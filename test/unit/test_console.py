"""A reader of the harness's output that leaves (`| tee` killed by a CI cancel, `| head`) is
noted, never raised, and the command line says so with 141 instead of a silent 0."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness import console
from harness.exit_codes import ExitCode


def test_a_write_to_a_pipe_whose_reader_left_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_lost", [])
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w") as raw:
        stream = console.GuardedStream(raw, "stdout")
        stream.write("x" * 100_000)  # more than a pipe holds: the write itself breaks
        stream.flush()
        stream.write("and more")
        stream.flush()
    assert console.lost()


def test_other_write_errors_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_lost", [])

    class Full:
        def write(self, _text: str) -> int:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        console.GuardedStream(Full(), "stdout").write("x")  # type: ignore[arg-type]
    assert not console.lost()


def test_a_command_into_a_closed_pipe_exits_141_without_a_traceback() -> None:
    script = (
        "import os, sys\n"
        "r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"
        "from harness.cli import main\n"
        "sys.exit(main(['doctor']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == ExitCode.BROKEN_PIPE, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
