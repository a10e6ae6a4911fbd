"""How a run can end, besides completing: each way is an exception the run raises from where
it notices, and `LeakRun` turns into run.json's outcome and the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.exit_codes import ExitCode

#: where an internal error's traceback goes (the terminal gets one line)
HARNESS_ERROR = "harness-error.txt"


class LoadError(Exception):
    """Locust could not drive the scenario (a locustfile that fails, Locust dying)."""


class TargetDied(Exception):
    """The target ended on its own before the run let it: OOM-killed (a finding: it did not fit
    its limit, which the checklist's peak item fails) or exited (the run could not go on)."""

    def __init__(self, oom_killed: bool, returncode: int | None, phase: str) -> None:
        self.status = "oom-killed" if oom_killed else "target-exited"
        self.exit_code = ExitCode.FAIL if oom_killed else ExitCode.INFRA
        self.detail = {"returncode": returncode, "phase": phase}
        how = "was OOM-killed" if oom_killed else f"exited (code {returncode})"
        super().__init__(f"the target {how} during {phase}")


class UpstreamDied(Exception):
    """A fake upstream the target depends on exited: from then on the load measures the
    target's errors, not its memory under the scenario."""


class RunDirectoryUnwritable(Exception):
    """The run directory stopped taking writes (a full disk): nothing more can be recorded."""


@dataclass
class RunResult:
    run_dir: Path
    status: str
    exit_code: int
    detail: dict[str, Any] = field(default_factory=dict)
