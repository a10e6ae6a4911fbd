"""What the harness and its Locust hooks (loaded inside Locust) agree on, in a module that
imports nothing: the harness process must never import Locust (it monkey-patches threads)."""

from __future__ import annotations

SCHEDULE_ENV = "LEAK_HARNESS_SCHEDULE"  # the stages, as JSON
PROGRESS_ENV = "LEAK_HARNESS_PROGRESS"  # the file the hooks write progress to
