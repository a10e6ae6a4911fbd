"""A run that stops once it can decide (issue 23): its look times, what each look spends of
the error budgets, the look that ends the load, and how the report says why it stopped."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from test_verdict import make_run

from harness.analyze.growth import fit_growth
from harness.analyze.sequential import how_it_stopped
from harness.load.scenario import Scenario, ScenarioError, look_times, plan
from harness.run.config import RunSettings, effective_scenario
from harness.run.looks import Looks
from harness.rundir import RunDirectory, read_events


def test_looks_double_from_the_duration_up_to_the_most_it_may_run() -> None:
    def times(duration: float, most: float | None) -> list[float]:
        return look_times(Scenario(name="s", duration_s=duration, max_duration_s=most))

    assert times(75, None) == []
    assert times(75, 75) == []
    assert times(75, 300) == [75, 150, 300]
    assert times(75, 160) == [75, 160]  # no look at 150 just before the last
    # Locust is planned for the longest load; the looks end it sooner
    stages = plan(Scenario(name="s", warmup_s=10, duration_s=75, max_duration_s=300))
    assert [(s.phase, s.duration_s) for s in stages] == [("warm-up", 10), ("load-1", 300)]


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"duration_s": 75, "max_duration_s": 60}, "at least duration_s"),
        ({"shape": "cycles", "idle_s": 5, "max_duration_s": 600}, "steady"),
    ],
)
def test_a_longest_load_that_cannot_be_is_refused(fields: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        Scenario.model_validate({"name": "s", **fields})


def test_max_duration_from_the_command_line_lets_a_steady_load_go_on() -> None:
    quick = Scenario(name="quick", duration_s=75)
    longer = effective_scenario(quick, RunSettings(max_duration_s=300))
    assert look_times(longer) == [75, 150, 300]
    fixed = effective_scenario(longer, RunSettings(duration_s=120))  # a length asked for
    assert fixed.max_duration_s is None and look_times(fixed) == []
    cycles = Scenario(name="full", shape="cycles", idle_s=5)
    with pytest.raises(ScenarioError, match=r"scenario full with the options given: .*steady"):
        effective_scenario(cycles, RunSettings(max_duration_s=600))


def test_each_look_spends_its_share_of_both_error_budgets() -> None:
    requests = [float(25 * i) for i in range(150)]
    values = [1e6 + 40.0 * x + (30_000.0 if i % 2 else -30_000.0) for i, x in enumerate(requests)]
    once, of_three = fit_growth(requests, values), fit_growth(requests, values, share=1 / 3)
    assert once is not None and of_three is not None
    assert of_three.slope == once.slope and (of_three.low, of_three.high) == (once.low, once.high)
    assert of_three.critical > once.critical  # LEAK needs more evidence at each look
    assert of_three.ruled_out_above > once.ruled_out_above  # and so does NO LEAK
    assert once.ruled_out_above == once.high


def test_a_look_that_rules_a_leak_out_ends_the_load_others_do_not(tmp_path: Path) -> None:
    clean = RunDirectory.create(tmp_path / "clean", "steady", {"looks": [75.0, 150.0, 300.0]})
    _copy_samples(make_run(tmp_path / "src"), clean)
    looks = Looks([75.0, 150.0, 300.0])
    assert not looks.due(1000.0)  # the load has not begun
    looks.load_began(1000.0)
    assert not looks.due(1074.0) and looks.due(1075.0)
    assert looks.take(clean)  # NO LEAK: the load ends
    (look,) = [e for e in read_events(clean.path) if e["event"] == "look"]
    assert (look["index"], look["verdict"], look["stop"]) == (1, "NO LEAK", True)
    assert look["seconds"] >= 0

    noisy = RunDirectory.create(tmp_path / "noisy", "steady", {"looks": [75.0, 150.0, 300.0]})
    short = make_run(tmp_path / "short", samples=20, requests_per_sample=5, noise=2_000_000.0)
    _copy_samples(short, noisy)
    looks = Looks([75.0, 150.0, 300.0])
    looks.load_began(0.0)
    assert not looks.take(noisy)  # INCONCLUSIVE: the load goes on
    assert looks.due(150.0) and looks.take(noisy) is False
    assert not looks.due(10_000.0)  # the last look is the analysis of the whole run

    # a LEAK goes on too: only the whole load may call it (see harness/run/looks.py)
    leaking = RunDirectory.create(tmp_path / "leak", "steady", {"looks": [75.0, 150.0, 300.0]})
    _copy_samples(make_run(tmp_path / "leaksrc", heap=1024.0), leaking)
    looks = Looks([75.0, 150.0, 300.0])
    looks.load_began(0.0)
    assert not looks.take(leaking)
    assert [e["verdict"] for e in read_events(leaking.path) if e["event"] == "look"] == ["LEAK"]
    for run in (clean, noisy, leaking):
        run.close()


def _copy_samples(source: Path, run: RunDirectory) -> None:
    with (source / "samples.csv").open() as src, (run.path / "samples.csv").open("w") as dst:
        dst.write(src.read())


def test_the_report_says_how_long_it_ran_and_why_it_stopped() -> None:
    meta = {"looks": [75.0, 150.0, 300.0]}
    look = {"event": "look", "index": 2, "at_s": 150.0, "verdict": "NO LEAK"}
    assert how_it_stopped({}, []) is None  # a run of fixed length
    assert how_it_stopped(meta, [{**look, "stop": True}]) == (
        "stopped early, 150 s into the load (at most 300 s): NO LEAK at look 2 of 3"
    )
    undecided = [{**look, "index": i, "stop": False} for i in (1, 2)]
    assert how_it_stopped(meta, undecided) == (
        "ran the longest load it may, 300 s (no leak ruled out at its 2 earlier looks)"
    )
    assert how_it_stopped(meta, []) == "ended after 0 of 3 looks (at most 300 s)"
