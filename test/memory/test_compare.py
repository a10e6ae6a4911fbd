"""`compare` on real runs of the bundled service: the same short scenario as the verdict
tests, run clean (the run the verdict tests judge too), with a 1 KiB/request telemetry-buffer
leak, and clean again. The leak run must be "B leaks more than A"
against the first clean run, and the two clean runs must be "no difference"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_verdicts import run_and_judge

from harness.cli import main
from harness.commands.compare import load_analysis
from harness.compare.comparison import B_MORE, SAME, Comparison, compare

pytestmark = pytest.mark.memory

# The smallest difference that counts. The short scenario judges ~1,000 requests per run,
# and a 1 KiB/request leak measures about that, give or take its interval: two real runs gave
# B - A = +894 (95% CI +728 .. +1,060) and +996 (+850 .. +1,141) B/request on the Python heap.
# With compare's default (B's leak_bytes_per_request, 1,024 in this scenario) both would be
# "no difference". Half the leak's size keeps it clear, and is still far above what two clean
# runs differ by (measured -19 (-224 .. +187) and -117 (-331 .. +98): the clean service's own
# early heap growth, ~230 B/request here, is the same in both runs and cancels).
THRESHOLD = 512.0


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, clean_short_run: tuple[dict[str, object], Path]
) -> Iterator[dict[str, Path]]:
    made = {"clean-1": clean_short_run[1]}  # shared with the verdict tests
    for name, extra in (
        ("leak", ("--leak", "telemetry-buffer:1KiB")),
        ("clean-2", ()),
    ):
        base = tmp_path_factory.mktemp(name)
        run_and_judge(base, *extra)  # asserts the run completed
        made[name] = (base / "reports" / "latest").resolve()
    yield made


def _compare(a: Path, b: Path) -> Comparison:
    comparison = compare(load_analysis(a), load_analysis(b), threshold=THRESHOLD)
    for d in comparison.series:  # the measured numbers, in the test log
        interval = f"{d.low:+,.0f} .. {d.high:+,.0f}"
        print(f"{a.name} vs {b.name}: {d.label} B - A {d.difference:+,.0f} ({interval})")
    return comparison


def test_a_1kib_leak_is_b_leaks_more(runs: dict[str, Path]) -> None:
    comparison = _compare(runs["clean-1"], runs["leak"])
    assert comparison.verdict == B_MORE, comparison.reason
    code = main(["compare", str(runs["clean-1"]), str(runs["leak"]), "--threshold", "512", "-q"])
    assert code == 1
    assert (runs["leak"] / "comparison.png").is_file()


def test_two_clean_runs_are_no_difference(runs: dict[str, Path]) -> None:
    comparison = _compare(runs["clean-1"], runs["clean-2"])
    assert comparison.verdict == SAME, comparison.reason
