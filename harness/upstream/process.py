"""The fake Azure OpenAI as a child process, for tests and for the harness's run."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence

from harness.lifetime import die_with_parent
from harness.upstream.cli import LISTENING
from harness.upstream.config import DEFAULT_API_KEY


class StubStartError(RuntimeError):
    """The stub did not come up; the message carries what it printed."""


class StubProcess:
    def __init__(
        self,
        extra_args: Sequence[str] = (),
        api_key: str = DEFAULT_API_KEY,
        timeout_s: float = 20.0,
    ) -> None:
        self.api_key = api_key
        command = [
            sys.executable,
            "-m",
            "harness",
            "stub",
            "azure-openai",
            "--port",
            "0",
            "--api-key",
            api_key,
            *extra_args,
        ]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=die_with_parent,
        )
        self._output: deque[str] = deque(maxlen=200)
        self._drainer: threading.Thread | None = None
        self.url = self._read_url(timeout_s)

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read_url(self, timeout_s: float) -> str:
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        seen: list[str] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            line = self.process.stdout.readline().decode(errors="replace")
            if not line:
                break
            seen.append(line.rstrip())
            if line.startswith(LISTENING):
                selector.close()
                self._output.extend(seen)
                self._drainer = threading.Thread(target=self._drain, daemon=True)
                self._drainer.start()
                return line.split()[-1]
        selector.close()
        self.stop()
        raise StubStartError("fake Azure OpenAI did not start:\n" + "\n".join(seen[-20:]))

    def _drain(self) -> None:
        """Keep reading what the stub prints, so a full pipe can never stall it."""
        assert self.process.stdout is not None
        try:
            for raw in self.process.stdout:
                self._output.append(raw.decode(errors="replace").rstrip())
        except (OSError, ValueError):  # closed by stop()
            return

    def output_tail(self) -> str:
        return "\n".join(self._output)

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

    def __enter__(self) -> StubProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
