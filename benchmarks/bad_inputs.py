"""The bad-input table for benchmarks/RESULTS.md: each bad input of test/support/bad_inputs.py
given to the real command line, with its exit code and the one line it prints.

    python benchmarks/bad_inputs.py"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "test")]

from support.bad_inputs import BAD_INPUTS, expand, make_files  # noqa: E402


def main() -> int:
    print("| command | exit | the line it prints |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bad-input-") as scratch:
        tmp = Path(scratch)
        make_files(tmp)
        for case in BAD_INPUTS:
            done = subprocess.run(
                [sys.executable, "-m", "harness", *expand(case.args, tmp)],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=tmp,
                env={**os.environ, **dict(case.env), "PYTHONPATH": str(ROOT)},
            )
            line = " / ".join(done.stderr.strip().splitlines()).replace(scratch, "$TMP")
            shown = " ".join(case.args).replace("{tmp}", "$TMP")
            env = " ".join(f"{k}={v}" for k, v in case.env)
            print(
                f"| `{(env + ' ') if env else ''}leak-harness {shown}` | {done.returncode} "
                f"| {line.replace('|', '/')} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
