"""What every `leak-harness` command exits with: one table, so a CI script can rely on it.

1 is the finding (a leak, a checklist FAIL, a NO-GO, run B leaking more, a flagged trend, the
target dying under load); 2 is bad input; 3 is the harness or its machine failing."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAIL = 1
    USAGE = 2
    INFRA = 3
    INCONCLUSIVE = 4
    INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
