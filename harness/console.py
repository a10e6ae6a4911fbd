"""The harness's own stdout and stderr, guarded: a reader that leaves is noted, never raised.

`leak-harness run ... 2>&1 | tee log` is how CI scripts run it, and a CI cancel kills `tee`.
Python then raises BrokenPipeError from whichever `print` comes next: in the middle of a
run, in the sampler's thread, in a cleanup. Guarded, the write is dropped, the stream is
pointed at /dev/null (so the interpreter's last flush cannot fail either), and `lost()` says
so: a run polls it and stops as it would on SIGPIPE, closing its run directory."""

from __future__ import annotations

import errno
import os
import sys
from typing import Any, TextIO

_lost: list[str] = []


def lost() -> bool:
    """Has a reader of stdout or stderr gone away?"""
    return bool(_lost)


class GuardedStream:
    """A text stream whose writes cannot raise a broken pipe."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        if self._name in _lost:
            return len(text)
        try:
            return self._stream.write(text)
        except OSError as exc:
            self._broken(exc)
            return len(text)

    def flush(self) -> None:
        if self._name in _lost:
            return
        try:
            self._stream.flush()
        except OSError as exc:
            self._broken(exc)

    def isatty(self) -> bool:
        return self._name not in _lost and self._stream.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _broken(self, exc: OSError) -> None:
        if not isinstance(exc, BrokenPipeError) and exc.errno not in (errno.EPIPE, errno.EIO):
            raise exc
        _lost.append(self._name)
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # not a real file (a test's StringIO): nothing to point
            pass


def guard() -> None:
    """Guard sys.stdout and sys.stderr (once; the command line calls it first)."""
    if not isinstance(sys.stdout, GuardedStream):
        sys.stdout = GuardedStream(sys.stdout, "stdout")
    if not isinstance(sys.stderr, GuardedStream):
        sys.stderr = GuardedStream(sys.stderr, "stderr")
