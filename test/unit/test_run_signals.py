"""Ctrl-C reaches the run even when it arrives while another greenlet runs: Locust's import
turns the sampler thread into a greenlet, and a signal handled there must not be lost."""

from __future__ import annotations

import os
import signal

import gevent
import pytest

from harness.run.leak_run import Interrupted, _signals_raise


def test_sigint_during_another_greenlet_interrupts_the_run() -> None:
    def busy() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        total = 0
        for i in range(200_000):  # the handler runs here, inside this greenlet
            total += i

    with _signals_raise(), pytest.raises(Interrupted):
        gevent.spawn(busy)
        gevent.sleep(1.0)  # the run's own flow, waiting


def test_sigterm_in_the_run_itself_is_raised_there() -> None:
    with _signals_raise(), pytest.raises(Interrupted, match="SIGTERM"):
        os.kill(os.getpid(), signal.SIGTERM)
        gevent.sleep(0.5)
