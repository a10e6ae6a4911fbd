"""Scenario files parse, and each shape plans the stages its name promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.load.scenario import Scenario, ScenarioError, available, load_scenario, plan


def test_every_bundled_scenario_loads_and_plans() -> None:
    names = available()
    assert {"quick", "steady", "stress", "spike", "soak", "cycles", "full"} <= set(names)
    for name in names:
        assert plan(load_scenario(name)), name


def test_quick_fits_in_a_ci_budget() -> None:
    total = sum(stage.duration_s for stage in plan(load_scenario("quick")))
    assert 60 <= total <= 150


def test_cycles_alternate_load_and_idle() -> None:
    scenario = Scenario(name="c", shape="cycles", warmup_s=5, duration_s=10, idle_s=4, cycles=3)
    phases = [(stage.phase, stage.users) for stage in plan(scenario)]
    assert phases == [
        ("warm-up", 8),
        ("load-1", 8),
        ("idle-1", 0),
        ("load-2", 8),
        ("idle-2", 0),
        ("load-3", 8),
        ("idle-3", 0),
    ]


def test_stress_steps_users_up_to_the_maximum() -> None:
    scenario = Scenario(name="s", shape="stress", users=4, step_users=4, max_users=16, warmup_s=0)
    assert [stage.users for stage in plan(scenario)] == [4, 8, 12, 16]


def test_spike_is_one_phase_with_a_burst_in_the_middle() -> None:
    scenario = Scenario(
        name="p", shape="spike", users=5, spike_users=50, duration_s=30, spike_s=10, warmup_s=0
    )
    stages = plan(scenario)
    assert [s.users for s in stages] == [5, 50, 5]
    assert {s.phase for s in stages} == {"load-1"}
    assert sum(s.duration_s for s in stages) == 30


def test_unknown_scenario_lists_the_known_ones() -> None:
    with pytest.raises(ScenarioError, match="quick"):
        load_scenario("no-such-scenario")


def test_bad_scenario_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('shape = "steady"\nusers = 0\n')
    with pytest.raises(ScenarioError, match="users"):
        load_scenario(str(path))
    path.write_text('shape = "cycles"\n')
    with pytest.raises(ScenarioError, match="idle_s"):
        load_scenario(str(path))
