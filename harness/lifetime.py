"""Children that do not outlive the harness: a harness killed with SIGKILL runs no cleanup, so
its target and Locust are asked by the kernel to stop (PR_SET_PDEATHSIG) instead."""

from __future__ import annotations

import ctypes
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """For subprocess preexec_fn: the child gets `sig` when the harness's thread that started
    it exits. Linux only; elsewhere a no-op (the next run's orphan sweep still applies)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    except (OSError, AttributeError):
        pass
