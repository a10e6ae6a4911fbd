"""How a run is stopped from outside: SIGINT (Ctrl-C), SIGTERM (a CI cancel, `kill`, a
container stop) and a reader of its output that left (SIGPIPE's meaning, seen as a broken
pipe by harness.console).

The first signal raises `Interrupted` in the run's own flow, so it unwinds through its
cleanup. From then on (and from the moment the cleanup starts, whatever started it) the
cleanup is shielded: another Ctrl-C is noted and ignored, because a cleanup cut short is what
leaves a target, a cgroup or a container behind."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any

from harness import console
from harness.exit_codes import ExitCode, for_signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """The run was asked to stop; it unwinds through its cleanup."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> ExitCode:
        return for_signal(self.signum)


class StopSignals:
    """Installed for the length of a run (`with StopSignals() as signals:`)."""

    def __init__(self) -> None:
        self.shielded = False
        self.ignored: list[str] = []  # signals that arrived while the cleanup was shielded
        self._previous: dict[int, Any] = {}
        self._owner: Any = None

    def __enter__(self) -> StopSignals:
        # Locust's import monkey-patches threads into greenlets, so the handler may run inside
        # the sampler's greenlet: the exception is then thrown into the run's own greenlet.
        with contextlib.suppress(ImportError):
            import greenlet

            self._owner = greenlet.getcurrent()
        self._previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        return self

    def __exit__(self, *_exc: object) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)

    def shield(self) -> None:
        """From now on a signal is noted, not raised: the cleanup runs to its end."""
        self.shielded = True

    def check(self) -> None:
        """Raise Interrupted(SIGPIPE) when the output's reader left; polled by the run."""
        if console.lost() and not self.shielded:
            self.shielded = True
            raise Interrupted(signal.SIGPIPE)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.shielded:
            self.ignored.append(name)
            _say(f"{name} again: still cleaning up, so that nothing is left behind\n")
            return
        self.shielded = True
        exc = Interrupted(signum)
        if self._owner is not None:
            import greenlet

            if greenlet.getcurrent() is not self._owner:
                import gevent

                gevent.get_hub().loop.run_callback(self._owner.throw, exc)
                return
        raise exc


def _say(text: str) -> None:
    """Write from a signal handler: a raw write (the display's lock may be held right now)."""
    with contextlib.suppress(OSError):
        os.write(2, text.encode())


@contextlib.contextmanager
def shielded(signals: StopSignals) -> Iterator[None]:
    """The body runs interruptible; whatever ends it, what follows (the caller's cleanup)
    runs shielded."""
    try:
        yield
    finally:
        signals.shield()
