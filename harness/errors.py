"""The one usage-error type: bad input (an option, a file, a run directory) that the user can
fix. The CLI catches it once, prints its message on one line and exits 2, never a traceback."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input: the message says what to fix."""
