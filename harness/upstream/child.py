"""An upstream server as a child process that prints the URL it listens on: the fake Azure
OpenAI and Azurite both run this way. What it prints is kept (the last 200 lines) for error
messages, and read continuously so a full pipe can never stall it."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Self

from harness.lifetime import die_with_parent


class StubStartError(RuntimeError):
    """An upstream did not come up; the message carries what it printed."""


class ListeningChild:
    """Starts `command`, waits for the line that `url_in(line)` finds a URL in, and stops the
    child (SIGTERM, then SIGKILL) on stop() or leaving a `with` block. The child dies with
    the harness (a parent-death signal), so even a SIGKILLed harness leaves none behind."""

    #: what the error message calls it
    what = "upstream"
    #: the secret the target is given as `{upstream.KIND.key}`
    api_key = ""

    def __init__(
        self, command: Sequence[str], timeout_s: float, env: dict[str, str] | None = None
    ) -> None:
        self.process = subprocess.Popen(
            list(command),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            preexec_fn=die_with_parent,
        )
        self._output: deque[str] = deque(maxlen=200)
        self._drainer: threading.Thread | None = None
        self.url = self._read_url(timeout_s)

    def url_in(self, line: str) -> str | None:
        raise NotImplementedError

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read_url(self, timeout_s: float) -> str:
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    break
                line = self.process.stdout.readline().decode(errors="replace")
                if not line:
                    break
                self._output.append(line.rstrip())
                url = self.url_in(line)
                if url is not None:
                    self._drainer = threading.Thread(target=self._drain, daemon=True)
                    self._drainer.start()
                    return url
        finally:
            selector.close()
        self.stop()
        raise self.start_error(f"{self.what} did not start:\n" + self.output_tail())

    def start_error(self, message: str) -> Exception:
        return StubStartError(message)

    def _drain(self) -> None:
        assert self.process.stdout is not None
        try:
            for raw in self.process.stdout:
                self._output.append(raw.decode(errors="replace").rstrip())
        except (OSError, ValueError):  # closed by stop()
            return

    def output_tail(self, lines: int = 20) -> str:
        return "\n".join(list(self._output)[-lines:])

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._drainer is not None:
            self._drainer.join(2.0)  # the pipe ends with the process
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
