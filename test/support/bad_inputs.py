"""Bad input the command line must refuse with one line that says what to fix (exit 2),
before it makes a run directory or starts anything. `test/unit/test_bad_input.py` asserts
each; `benchmarks/bad_inputs.py` prints the table of benchmarks/RESULTS.md from the same list.

`{tmp}` in an argument is a scratch directory holding `a_file`, `not.toml` (not TOML),
`unknown.toml` (an unknown setting) and `bad_scenario.toml` (a scenario with a typo)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BadInput:
    args: tuple[str, ...]
    says: str  # a part of the one line it must print
    env: tuple[tuple[str, str], ...] = ()


def make_files(tmp: Path) -> None:
    (tmp / "a_file").write_text("")
    (tmp / "not.toml").write_text("this is = = not toml\n")
    (tmp / "unknown.toml").write_text("memroy_limit = '2g'\n")
    (tmp / "bad_scenario.toml").write_text("shape = 'steady'\nusres = 4\n")


RUN = ("run", "--out", "{tmp}/out")

BAD_INPUTS = [
    BadInput((*RUN, "--memory-limit", "1k"), "below 32 MiB"),
    BadInput((*RUN, "--memory-limit", "lots"), "not a size"),
    BadInput((*RUN, "--backend", "remote"), "needs the service's URL"),
    BadInput((*RUN, "--host", "notaurl"), "is not a service URL"),
    BadInput((*RUN, "--host", "http://127.0.0.1:99999"), "is not a service URL"),
    BadInput(("run", "--out", "{tmp}/a_file"), "Not a directory"),
    BadInput(("run", "--out", "/proc/x"), "No such file or directory"),
    BadInput((*RUN, "--scenario", "nosuch"), "nosuch"),
    BadInput((*RUN, "--scenario", "{tmp}/bad_scenario.toml"), "usres"),
    BadInput((*RUN, "--locustfile", "/no/such/file.py"), "does not exist"),
    BadInput((*RUN, "--leak", "bogus:1K"), "unknown leak switch 'bogus'"),
    BadInput((*RUN, "--users", "0"), "users"),
    BadInput((*RUN, "--duration", "-5"), "duration"),
    BadInput((*RUN, "--sample-interval", "0.01"), "sample_interval"),
    BadInput((*RUN, "--config", "{tmp}/missing.toml"), "does not exist"),
    BadInput((*RUN, "--config", "{tmp}/not.toml"), "not valid TOML"),
    BadInput((*RUN, "--config", "{tmp}/unknown.toml"), "memroy_limit"),
    BadInput(RUN, "not a size", env=(("LEAK_HARNESS_MEMORY_LIMIT", "abc"),)),
    BadInput(("analyze", "{tmp}/no-such-run"), "no-such-run"),
    BadInput(("analyze", "{tmp}"), "not a run directory"),
    BadInput(("compare", "{tmp}/a", "{tmp}/b"), "{tmp}/a"),
    BadInput(("suite", "--runs", "{tmp}/no-such-run", "--out", "{tmp}/out"), "no-such-run"),
]


def expand(args: tuple[str, ...], tmp: Path) -> list[str]:
    return [arg.replace("{tmp}", str(tmp)) for arg in args]
