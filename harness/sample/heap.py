"""Heap snapshots at phase and cycle boundaries, and garbage collections, through the injected
agent."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

AGENT_DIR = Path(__file__).resolve().parent / "agent"
HEAP_DIR_ENV = "LEAK_HARNESS_HEAP_DIR"
FRAMES_ENV = "LEAK_HARNESS_TRACEMALLOC"


def agent_env(heap_dir: Path, frames: int, pythonpath: str | None) -> dict[str, str]:
    """Environment that injects the agent into a Python target."""
    parts = [str(AGENT_DIR), *([pythonpath] if pythonpath else [])]
    return {HEAP_DIR_ENV: str(heap_dir), FRAMES_ENV: str(frames), "PYTHONPATH": ":".join(parts)}


class HeapSnapshots:
    """Asks the target for named snapshots and waits for the agent to write them."""

    def __init__(self, heap_dir: Path) -> None:
        self.heap_dir = heap_dir
        heap_dir.mkdir(parents=True, exist_ok=True)
        heap_dir.chmod(0o777)  # a container's non-root user writes here too

    def request(
        self, name: str, send_signal: Callable[[], bool], timeout_s: float = 30.0
    ) -> Path | None:
        """Name `start` starts tracing; any other dumps a snapshot. `send_signal()` delivers
        SIGUSR2 to the target. Returns the file, or None if the agent did not answer in time
        (the target is not Python, or is busy dying)."""
        (self.heap_dir / "request").write_text(name)
        path = self.heap_dir / ("tracing" if name == "start" else f"{name}.tracemalloc")
        if not send_signal():
            return None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if path.exists():
                return path
            time.sleep(0.05)
        return None

    def collect(
        self, send_signal: Callable[[], bool], timeout_s: float = 30.0
    ) -> dict[str, Any] | None:
        """Ask the target's agent for a garbage collection; what it did (objects collected,
        malloc_trim, seconds), or None if it did not answer in time."""
        answer = self.heap_dir / "gc.json"
        answer.unlink(missing_ok=True)
        (self.heap_dir / "request").write_text("gc")
        if not send_signal():
            return None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if answer.exists():
                try:
                    data: dict[str, Any] = json.loads(answer.read_text())
                except ValueError:
                    return None
                return data
            time.sleep(0.05)
        return None
