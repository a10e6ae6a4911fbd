"""Where a run came from: versions, machine, commit and branch, for run.json and the history."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import __version__


def _git(*args: str) -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["git", *args],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return done.stdout.strip() or None
    return None


def _git_branch() -> str | None:
    """The branch under test, for grouping the history: CI's variable when it sets one (a
    detached checkout has no branch), else git's."""
    for name in ("LEAK_HARNESS_BRANCH", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_BRANCH"):
        if os.environ.get(name):
            return os.environ[name]
    branch = _git("rev-parse", "--abbrev-ref", "HEAD")
    return branch if branch != "HEAD" else None


def environment() -> dict[str, Any]:
    return {
        "harness_version": __version__,
        "python": sys.version.split()[0],
        "locust": importlib.metadata.version("locust"),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_branch": _git_branch(),
    }
