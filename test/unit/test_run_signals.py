"""Ctrl-C reaches the run even when it arrives while another greenlet runs (Locust's import
turns the sampler thread into a greenlet), and once the cleanup has begun a second Ctrl-C is
noted, not raised, so the cleanup runs to its end."""

from __future__ import annotations

import os
import signal

import gevent
import pytest

from harness import console
from harness.exit_codes import ExitCode
from harness.run.signals import Interrupted, StopSignals, shielded


def test_sigint_during_another_greenlet_interrupts_the_run() -> None:
    def busy() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        total = 0
        for i in range(200_000):  # the handler runs here, inside this greenlet
            total += i

    with StopSignals(), pytest.raises(Interrupted):
        gevent.spawn(busy)
        gevent.sleep(1.0)  # the run's own flow, waiting


def test_sigterm_in_the_run_itself_is_raised_there_and_exits_143() -> None:
    with StopSignals(), pytest.raises(Interrupted, match="SIGTERM") as caught:
        os.kill(os.getpid(), signal.SIGTERM)
        gevent.sleep(0.5)
    assert caught.value.exit_code == ExitCode.TERMINATED


def test_a_second_sigint_during_the_cleanup_does_not_cut_it_short() -> None:
    cleaned: list[str] = []
    with StopSignals() as signals, pytest.raises(Interrupted):
        try:
            with shielded(signals):
                os.kill(os.getpid(), signal.SIGINT)  # the first: raised in the run
                gevent.sleep(0.5)
        finally:  # the cleanup, interrupted again twice
            os.kill(os.getpid(), signal.SIGINT)
            gevent.sleep(0.2)
            cleaned.append("target")
            os.kill(os.getpid(), signal.SIGTERM)
            gevent.sleep(0.2)
            cleaned.append("cgroup")
    assert cleaned == ["target", "cgroup"]
    assert signals.ignored == ["SIGINT", "SIGTERM"]


def test_the_cleanup_after_a_normal_end_is_shielded_too() -> None:
    with StopSignals() as signals:
        with shielded(signals):
            pass  # the run's body ended on its own
        os.kill(os.getpid(), signal.SIGINT)  # during the unwinding: ignored
        gevent.sleep(0.2)
    assert signals.ignored == ["SIGINT"]


def test_a_reader_that_left_stops_the_run_as_sigpipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_lost", ["stderr"])
    with StopSignals() as signals, pytest.raises(Interrupted, match="SIGPIPE") as caught:
        signals.check()
    assert caught.value.exit_code == ExitCode.BROKEN_PIPE
    signals.check()  # once: the cleanup that follows is not interrupted again
