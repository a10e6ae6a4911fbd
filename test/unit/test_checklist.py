"""Checklist items decide PASS / FAIL / SKIP from the evidence a run directory holds."""

from __future__ import annotations

from pathlib import Path

from harness.analyze.checklist import (
    FAIL,
    PASS,
    SKIP,
    Limits,
    check_alert_rules,
    check_cleanup,
    check_peak,
    check_startup,
    limits_for,
)

MIB = 1024 * 1024
BUNDLED_RULES = Path(__file__).resolve().parents[2] / "resume_api" / "alert_rules.yml"


def row(phase: str, anon_mb: float, fds: int = 20, peak_mb: float | None = None) -> dict[str, str]:
    return {
        "phase": phase,
        "container_anon": str(int(anon_mb * MIB)),
        "fds": str(fds),
        "cgroup_peak": str(int((peak_mb or anon_mb) * MIB)),
    }


def test_startup_and_peak_against_their_thresholds() -> None:
    limits = Limits()
    assert check_startup({"startup": {"working_set": 120 * MIB}}, limits).status == PASS
    assert check_startup({"startup": {"working_set": 620 * MIB}}, limits).status == FAIL
    assert check_startup({}, limits).status == SKIP
    assert check_peak([row("load-1", 100, peak_mb=900)], {}, limits).status == PASS
    assert check_peak([row("load-1", 100, peak_mb=1600)], {}, limits).status == FAIL
    oom = {"outcome": {"status": "oom-killed"}}
    assert check_peak([row("load-1", 100, peak_mb=250)], oom, limits).status == FAIL


def test_cleanup_must_return_near_the_baseline() -> None:
    warm = [row("warm-up", 100) for _ in range(4)]
    assert check_cleanup([*warm, *[row("cleanup", 104) for _ in range(4)]], Limits()).status == PASS
    grown = check_cleanup([*warm, *[row("cleanup", 180) for _ in range(4)]], Limits())
    assert grown.status == FAIL and "above the baseline" in grown.evidence
    fds = check_cleanup([*warm, *[row("cleanup", 100, fds=60) for _ in range(4)]], Limits())
    assert fds.status == FAIL and "fds" in fds.evidence
    assert check_cleanup(warm, Limits()).status == SKIP


def test_cleanup_says_what_was_reclaimed() -> None:
    rows = [row("warm-up", 100), row("load-1", 160), row("cleanup", 110)]
    events = [
        {"event": "cleanup", "action": "gc", "status": 200, "answer": {"data": {"freed_mb": 12.5}}},
        {
            "event": "cleanup",
            "action": "clear-cache",
            "status": 200,
            "answer": {"data": {"cleared": {"embedding_cache_entries": 900}}},
        },
    ]
    evidence = check_cleanup(rows, Limits(), events).evidence
    assert "50.0 MB reclaimed" in evidence
    assert "freed mb 12.5" in evidence and "embedding cache entries 900" in evidence


def test_bundled_alert_rules_match_the_service_thresholds() -> None:
    meta = {"target": {"alert_rules": str(BUNDLED_RULES)}}
    assert check_alert_rules(meta, Limits()).status == PASS
    moved = Limits(warning_mb=1200)  # MEMORY_WARNING_THRESHOLD changed, the rules did not
    result = check_alert_rules(meta, moved)
    assert result.status == FAIL and "warning 1200 MB" in result.evidence


def test_missing_or_broken_alert_rules(tmp_path: Path) -> None:
    assert check_alert_rules({"target": {}}, Limits()).status == SKIP
    missing = {"target": {"alert_rules": str(tmp_path / "none.yml")}}
    assert check_alert_rules(missing, Limits()).status == FAIL
    broken = tmp_path / "broken.yml"
    broken.write_text("alerts: [unclosed\n")
    assert check_alert_rules({"target": {"alert_rules": str(broken)}}, Limits()).status == FAIL


def test_service_variables_override_the_thresholds() -> None:
    env = {"MEMORY_WARNING_THRESHOLD": "1200", "CONTAINER_MEMORY_LIMIT_MB": "1024"}
    limits = limits_for({"scenario": {"thresholds": {"startup_mb": 300}}}, env)
    assert (limits.warning_mb, limits.container_limit_mb, limits.startup_mb) == (1200, 1024, 300)


def test_cleanup_allows_one_pooled_connection_per_user_beyond_the_warm_up() -> None:
    """A stress run ramps from 4 to 64 users: the upstream keep-alive pool may keep up to 60
    more idle sockets; sockets beyond that are not released and fail the check."""

    def at(phase: str, users: int, fds: int) -> dict[str, str]:
        return {**row(phase, 100, fds=fds), "users": str(users)}

    warm = [at("warm-up", 4, 28) for _ in range(4)]
    load = [at("load-16", 64, 150)]
    pooled = check_cleanup([*warm, *load, *[at("cleanup", 0, 89) for _ in range(4)]], Limits())
    assert pooled.status == PASS, pooled.evidence
    leaked = check_cleanup([*warm, *load, *[at("cleanup", 0, 120) for _ in range(4)]], Limits())
    assert leaked.status == FAIL and "fds 28 -> 120" in leaked.evidence


def test_a_target_that_died_is_not_failed_on_the_stats_its_death_took() -> None:
    """An OOM-killed run's last samples have no stats (the process was dying, then gone):
    "monitoring endpoints work" FAILed at 88% in CI. A live target missing the same share
    still fails."""
    from harness.analyze.checklist import check_monitoring

    rows = [{"phase": "load-1", "app_heap": "1"}] * 7 + [{"phase": "load-1", "app_heap": ""}]
    events = [{"event": "monitoring-check", "endpoint": "/stats", "valid": True}]
    target = {"target": {"memory_endpoints": {"stats": "/stats"}}}
    died = {**target, "outcome": {"status": "oom-killed"}}
    assert check_monitoring(rows, events, died).status == "PASS"
    assert check_monitoring(rows, events, target).status == "FAIL"
