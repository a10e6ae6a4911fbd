"""What every `leak-harness` command exits with: one table, so a CI script can rely on it.

1 is the finding (a leak, a checklist FAIL, a NO-GO, run B leaking more, a flagged trend) and
nothing else; 2 is bad input; 3 is the machine, the sandbox or the target failing the run; 70
is the harness's own bug; 128 + N is the signal N that stopped it, as shells report it."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAIL = 1
    USAGE = 2
    INFRA = 3
    INCONCLUSIVE = 4
    INTERNAL = 70  # sysexits' EX_SOFTWARE: an error in the harness itself (a bug to report)
    INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
    BROKEN_PIPE = 141  # 128 + SIGPIPE: whoever read the output (`| tee`, `| head`) is gone
    TERMINATED = 143  # 128 + SIGTERM: a CI cancel, `kill`, a container stop


def for_signal(signum: int) -> ExitCode:
    """The exit code of a run stopped by `signum`: 128 + the signal, as a shell shows it."""
    try:
        return ExitCode(128 + signum)
    except ValueError:
        return ExitCode.INTERRUPTED
