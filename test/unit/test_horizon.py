"""The threshold from the container's limit (issue 23): the leak that fills the headroom within
the horizon at production traffic, told in every verdict, judged on when the scenario asks, and
what a run that decided nothing still rules out in days to the limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_verdict import make_run

from harness.analyze.horizon import Horizon
from harness.analyze.verdict import LEAK, NO_LEAK, Rules, judge, rules_from_run
from harness.units import GIB, MIB


def test_the_leak_that_reaches_the_limit_in_seven_days_at_20_rps() -> None:
    found = Horizon(
        limit_bytes=2 * GIB, level_bytes=100 * MIB, production_rps=20, time_to_limit_h=168
    )
    # 1,948 MiB over 20 req/s * 604,800 s = 12,096,000 requests
    assert found.bytes_per_request == pytest.approx(1948 * MIB / 12_096_000)
    assert round(found.bytes_per_request) == 169
    assert found.days_to_limit(found.bytes_per_request) == pytest.approx(7.0)
    assert found.question() == (
        "a leak that reaches the 2.0 GiB limit within 7 days at 20 req/s (from 100 MiB after "
        "warm-up) is >= 169 B/request"
    )
    assert found.ruled_out(338.6) == "at 20 req/s the 2.0 GiB limit is at least 3.5 days away"
    assert found.days_to_limit(0.0) is None


def test_every_verdict_tells_the_limit_and_what_it_ruled_out(tmp_path: Path) -> None:
    verdict = judge(make_run(tmp_path), Rules())
    assert verdict.verdict == NO_LEAK
    assert verdict.limit_bytes_per_request is not None
    assert verdict.limit_question and "within 7 days at 20 req/s" in verdict.limit_question
    assert verdict.limit_ruled_out and verdict.limit_ruled_out.endswith("days away")
    # a slower production rate, a longer way to the limit: the same run rules out more days
    slower = judge(make_run(tmp_path / "slow"), Rules(production_rps=2))
    assert slower.limit_bytes_per_request == pytest.approx(10 * verdict.limit_bytes_per_request)


def test_a_leak_under_the_fixed_threshold_is_caught_at_the_limits(tmp_path: Path) -> None:
    """300 B/request reaches 2 GiB in about four days at 20 req/s: under the quick scenario's
    512 B/request it was "grows, but under"; judged on the 7-day question it is a LEAK."""
    run = make_run(tmp_path, heap=300.0, samples=400, noise=20_000.0)
    fixed = judge(run, Rules(leak_bytes_per_request=512))
    assert fixed.verdict == NO_LEAK and "under the threshold" in fixed.reason, fixed.reason
    by_limit = judge(run, Rules(leak_bytes_per_request=512, threshold_from_limit=True))
    assert by_limit.verdict == LEAK, by_limit.reason
    assert by_limit.rules["leak_bytes_per_request"] == pytest.approx(
        by_limit.limit_bytes_per_request
    )
    assert by_limit.limit_ruled_out is None  # a leak: its own hours to the limit say it
    # and a clean run judged the same way is still clean
    clean = make_run(tmp_path / "clean", samples=400, noise=20_000.0)
    assert judge(clean, Rules(threshold_from_limit=True)).verdict == NO_LEAK


def test_a_scenario_asks_for_the_limits_threshold_by_name(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    meta = json.loads((run / "run.json").read_text())
    meta["scenario"] = {"thresholds": {"leak_bytes_per_request": "limit", "time_to_limit_h": 72}}
    (run / "run.json").write_text(json.dumps(meta))
    rules = rules_from_run(run)
    assert rules.threshold_from_limit and rules.time_to_limit_h == 72
    # a threshold given at analyze time is the one asked for
    assert not rules_from_run(run, leak_bytes_per_request=256).threshold_from_limit
