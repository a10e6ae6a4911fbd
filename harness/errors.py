"""The one usage-error type: bad input (an option, a file, a run directory) that the user can
fix. The CLI catches it once, prints its message on one line and exits 2, never a traceback."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input: the message says what to fix."""


class RunDirError(UsageError, ValueError):
    """A run directory that cannot be read: a file missing, truncated, or not what the harness
    writes. Also a ValueError, so callers that caught a bad run.json as one still do."""
