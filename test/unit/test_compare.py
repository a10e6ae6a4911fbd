"""`leak-harness compare A B` on synthetic runs: a 1 KiB/request leak in B is "B leaks more"
(exit 1), two clean runs with different noise are "no difference", the leak in A is "B leaks
less" (exit 0), bad input is one line and exit 2, and the pooled interval of repeated runs
widens when the runs disagree."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from support.synthetic import synthetic_run

from harness.analyze.analysis import VERDICT_JSON, analyze, write_verdict
from harness.analyze.growth import Z95
from harness.analyze.verdict import Rules
from harness.cli import main
from harness.compare.comparison import B_LESS, B_MORE, SAME, Growth, compare, pool, pool_growths
from harness.compare.report import Side, curve, plot


def _run(tmp_path: Path, name: str, heap_leak: float = 0.0, seed: int = 7) -> Path:
    return synthetic_run(tmp_path / name, heap_leak=heap_leak, seed=seed)


def _compare(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main(["compare", *(str(a) for a in argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    return _run(tmp_path, "clean")


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    return _run(tmp_path, "leaky", heap_leak=1024.0)


def test_a_1kib_leak_in_b_is_b_leaks_more(
    capsys: pytest.CaptureFixture[str], clean: Path, leaky: Path
) -> None:
    code, out, err = _compare(capsys, clean, leaky)
    assert code == 1, err
    first = out.splitlines()[0]
    assert first.startswith(B_MORE), out
    assert "<- decides" in out and "Python heap" in out and "peak" in out


def test_two_clean_runs_are_no_difference(
    capsys: pytest.CaptureFixture[str], clean: Path, tmp_path: Path
) -> None:
    other = _run(tmp_path, "clean-2", seed=8)
    code, out, err = _compare(capsys, clean, other)
    assert code == 0, err
    assert out.startswith(SAME), out


def test_the_leak_in_a_is_b_leaks_less_and_passes(
    capsys: pytest.CaptureFixture[str], clean: Path, leaky: Path
) -> None:
    code, out, _ = _compare(capsys, leaky, clean, "-q")
    assert code == 0
    assert out.startswith(B_LESS) and len(out.splitlines()) == 1, out


def test_json_is_parseable_and_carries_each_run(
    capsys: pytest.CaptureFixture[str], clean: Path, leaky: Path
) -> None:
    code, out, _ = _compare(capsys, clean, leaky, "--json")
    document = json.loads(out)
    assert code == document["exit_code"] == 1
    assert document["verdict"] == B_MORE
    decided = next(s for s in document["series"] if s["series"] == document["deciding_series"])
    assert 900 < decided["difference"] < 1150 and decided["low"] > 0
    assert [r["run_dir"] for r in document["b_runs"]] == [str(leaky.resolve())]
    assert document["a_runs"][0]["growth"]["app_heap"]["slope"] < 50


def test_reports_go_to_b_by_default_or_to_out(
    capsys: pytest.CaptureFixture[str], clean: Path, leaky: Path, tmp_path: Path
) -> None:
    _compare(capsys, clean, leaky)
    names = {"comparison.md", "comparison.json", "comparison.png"}
    assert names <= {p.name for p in leaky.iterdir()}
    assert not names & {p.name for p in clean.iterdir()}
    page = (leaky / "comparison.md").read_text()
    assert B_MORE in page and "](comparison.png)" in page and "| Python heap |" in page
    out = tmp_path / "pr" / "check"
    _compare(capsys, clean, leaky, "--out", out)
    assert names == {p.name for p in out.iterdir()}
    assert json.loads((out / "comparison.json").read_text())["verdict"] == B_MORE


def test_runs_are_judged_in_memory_without_writing_into_them(
    capsys: pytest.CaptureFixture[str], clean: Path, leaky: Path, tmp_path: Path
) -> None:
    _compare(capsys, clean, leaky, "--out", tmp_path / "elsewhere")
    for run_dir in (clean, leaky):
        assert not (run_dir / VERDICT_JSON).exists()
    assert not list(tmp_path.rglob("history.sqlite"))


def test_a_fresh_verdict_json_is_used_and_a_stale_one_is_not(
    capsys: pytest.CaptureFixture[str], clean: Path, leaky: Path
) -> None:
    # judged with a threshold of 4 KiB, verdict.json makes that compare's default threshold
    write_verdict(leaky, analyze(leaky, Rules(leak_bytes_per_request=4096.0)))
    code, out, _ = _compare(capsys, clean, leaky)
    assert code == 0 and out.startswith(SAME) and "threshold 4,096" in out
    samples = leaky / "samples.csv"
    verdict_time = (leaky / VERDICT_JSON).stat().st_mtime
    os.utime(samples, (verdict_time + 10, verdict_time + 10))  # the run was re-sampled since
    code, out, _ = _compare(capsys, clean, leaky)
    assert code == 1 and out.startswith(B_MORE)


def _broken(kind: str, directory: Path) -> Path:
    """A directory that is not a usable run, in one of the ways a user gets wrong."""
    if kind == "missing":
        return directory / "missing"
    if kind != "no-run-json":
        (directory / "run.json").write_text("{}")
    if kind == "empty-samples":
        (directory / "samples.csv").write_text("time,elapsed_s,phase,requests\n")
    return directory


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "no such run directory"),
        ("no-run-json", "is not a run directory"),
        ("no-samples-csv", "has no samples.csv"),
        ("empty-samples", "has no samples"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], clean: Path, tmp_path: Path, kind: str, message: str
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = _compare(capsys, _broken(kind, empty), clean)
    assert code == 2 and not out
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_no_series_in_common_and_a_bad_threshold_are_usage_errors(
    capsys: pytest.CaptureFixture[str], clean: Path, leaky: Path
) -> None:
    code, _, err = _compare(capsys, clean, leaky, "--series", "app_malloc")
    assert code == 2 and "not judged in both runs" in err
    code, _, err = _compare(capsys, clean, leaky, "--threshold", "nan")
    assert code == 2 and "--threshold" in err
    code, _, err = _compare(capsys, f"{clean},{clean}", leaky)
    assert code == 2 and "given twice" in err


def test_repeated_runs_are_pooled_per_side(
    capsys: pytest.CaptureFixture[str], clean: Path, leaky: Path, tmp_path: Path
) -> None:
    clean_2 = _run(tmp_path, "clean-2", seed=8)
    leaky_2 = _run(tmp_path, "leaky-2", heap_leak=1024.0, seed=9)
    code, out, _ = _compare(capsys, f"{clean},{clean_2}", f"{leaky},{leaky_2}", "--json")
    document = json.loads(out)
    assert code == 1 and document["verdict"] == B_MORE
    assert len(document["a_runs"]) == len(document["b_runs"]) == 2
    assert "+" in document["a_id"]


def test_pooling_narrows_agreeing_runs_and_widens_disagreeing_ones() -> None:
    se = 5.0
    half = Z95 * se

    def run(slope: float) -> Growth:
        return Growth(slope, slope - half, slope + half)

    agreeing = pool_growths([run(0.0), run(1.0)])
    assert agreeing.slope == pytest.approx(0.5)
    assert agreeing.standard_error == pytest.approx(se / math.sqrt(2))
    # 40 B/request apart with intervals of +/-10: the builds' runs differ by more than chance,
    # so the between-run variance is added and the interval is wider than either run's
    disagreeing = pool_growths([run(0.0), run(40.0)])
    assert disagreeing.slope == pytest.approx(20.0)
    assert disagreeing.standard_error > se


def test_pool_of_one_run_is_that_run_and_compare_accepts_pools(clean: Path, leaky: Path) -> None:
    a = analyze(clean, Rules()).to_json()
    b = analyze(leaky, Rules()).to_json()
    assert pool([a]) == a
    comparison = compare(pool([a, a]), pool([b]), threshold=512.0)
    assert comparison.verdict == B_MORE and comparison.threshold == 512.0


def test_the_plot_has_both_sides_and_labelled_axes(clean: Path, leaky: Path) -> None:
    a = analyze(clean, Rules()).to_json()
    b = analyze(leaky, Rules()).to_json()
    comparison = compare(a, b)
    series = comparison.deciding_series
    assert series is not None
    curves = [curve("A", "a", clean, a, series), curve("B", "b", leaky, b, series)]
    figure = plot(comparison, [c for c in curves if c is not None])
    assert figure is not None
    axes = figure.axes[0]
    assert axes.get_xlabel() == "cumulative requests" and "MiB" in axes.get_ylabel()
    labels = [line.get_label() for line in axes.get_lines()]
    assert any(label.startswith("A a:") for label in labels)
    assert any(label.startswith("B b:") for label in labels)
    assert Side("A", [clean], [a]).run_ids == [str(a["run"]["id"])]


def test_no_difference_names_a_series_too_noisy_to_tell() -> None:
    def document(
        heap: tuple[float, float, float], rss: tuple[float, float, float]
    ) -> dict[str, object]:
        return {
            "series": [
                {"name": "rss", "trend": dict(zip(("slope", "low", "high"), rss, strict=True))},
                {
                    "name": "app_heap",
                    "trend": dict(zip(("slope", "low", "high"), heap, strict=True)),
                },
            ]
        }

    a = document((240.0, 140.0, 340.0), (0.0, -2700.0, 2700.0))
    b = document((220.0, 40.0, 400.0), (0.0, -2200.0, 2200.0))
    comparison = compare(a, b, threshold=512.0)
    assert comparison.verdict == SAME
    assert len(comparison.notes) == 1 and comparison.notes[0].startswith("process RSS")
