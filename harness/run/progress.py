"""What a person watching a run sees: one live status line on a terminal (phase, time left,
requests/s, working set, errors), plain lines every 10 s otherwise, nothing with --quiet."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from harness.load.scenario import Stage
from harness.rundir import Sample
from harness.units import MIB

PLAIN_EVERY_S = 10.0


class Display:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.live = self.stream.isatty() and not quiet
        self._lock = threading.Lock()
        self._load_started: float | None = None
        self._total_s = 0.0
        self._previous: Sample | None = None
        self._last_plain = 0.0
        self._status_shown = False

    def _line(self, text: str) -> None:
        with self._lock:
            if self._status_shown:
                self.stream.write("\r\033[K")
                self._status_shown = False
            self.stream.write(text + "\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        if not self.quiet:
            self._line(text)

    def warning(self, text: str) -> None:
        self._line(f"WARNING: {text}")  # even with --quiet

    def phase(self, phase: str) -> None:
        self.message(f"-- phase {phase}")

    def start(self, stages: list[Stage]) -> None:
        self._load_started = time.monotonic()
        self._total_s = sum(stage.duration_s for stage in stages)

    def sample(self, sample: Sample) -> None:
        if self.quiet:
            return
        rate = 0.0
        if self._previous is not None and sample.elapsed_s > self._previous.elapsed_s:
            rate = (sample.requests - self._previous.requests) / (
                sample.elapsed_s - self._previous.elapsed_s
            )
        self._previous = sample
        left = ""
        if self._load_started is not None:
            remaining = max(0.0, self._total_s - (time.monotonic() - self._load_started))
            left = f" {int(remaining // 60):02d}:{int(remaining % 60):02d} left"
        memory = sample.working_set if sample.working_set is not None else sample.rss
        shown = f"{memory / MIB:7.1f} MiB" if memory is not None else "      ?"
        text = (
            f"[{sample.phase:>10}]{left}  {rate:6.1f} req/s  {sample.requests:>7} req  "
            f"{sample.failures} errors  working set {shown}"
        )
        if self.live:
            with self._lock:
                self.stream.write("\r\033[K" + text)
                self.stream.flush()
                self._status_shown = True
        elif time.monotonic() - self._last_plain >= PLAIN_EVERY_S:
            self._last_plain = time.monotonic()
            self._line(text)

    def close(self) -> None:
        if self._status_shown:
            with self._lock:
                self.stream.write("\n")
                self._status_shown = False
