"""Settings precedence (CLI > environment > file > defaults), sizes, and redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.run.config import ConfigError, load_settings, parse_size
from harness.rundir import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2g", 2 << 30),
        ("2GiB", 2 << 30),
        ("512m", 512 << 20),
        ("1048576", 1 << 20),
        ("1.5G", 3 << 29),
    ],
)
def test_sizes(text: str, expected: int) -> None:
    assert parse_size(text) == expected


def test_bad_size_says_what_is_expected() -> None:
    with pytest.raises(ConfigError, match=r"e\.g\. 2g"):
        parse_size("two gigs")


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings, source = load_settings({}, environ={}, cwd=tmp_path)
    assert source is None
    assert (settings.scenario, settings.backend, settings.memory_limit) == (
        "quick",
        "auto",
        2 << 30,
    )
    assert settings.cpus == 1.0 and settings.target.name == "resume_api"


def test_cli_beats_environment_beats_file(tmp_path: Path) -> None:
    (tmp_path / "leak-harness.toml").write_text(
        'scenario = "steady"\nbackend = "process"\nmemory_limit = "1g"\nusers = 3\n'
    )
    env = {"LEAK_HARNESS_BACKEND": "cgroup", "LEAK_HARNESS_MEMORY_LIMIT": "512m"}
    settings, source = load_settings({"memory_limit": "256m"}, environ=env, cwd=tmp_path)
    assert source == tmp_path / "leak-harness.toml"
    assert settings.scenario == "steady"  # file
    assert settings.users == 3  # file
    assert settings.backend == "cgroup"  # environment over file
    assert settings.memory_limit == 256 << 20  # CLI over both


def test_pyproject_tool_table_and_relative_target_paths(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "svc"\n[tool.leak-harness]\nscenario = "soak"\n'
        '[tool.leak-harness.target]\nname = "svc"\ncommand = ["svc", "--port", "{port}"]\n'
        'alert_rules = "ops/alerts.yml"\nupstreams = []\nmemory_endpoints = {}\n'
    )
    settings, _ = load_settings({}, environ={}, cwd=tmp_path)
    assert settings.scenario == "soak"
    assert settings.target.command == ["svc", "--port", "{port}"]
    assert settings.target.alert_rules == tmp_path / "ops" / "alerts.yml"
    assert settings.target.upstreams == []


def test_a_service_table_that_names_only_its_command_gets_none_of_the_bundled_parts(
    tmp_path: Path,
) -> None:
    (tmp_path / "leak-harness.toml").write_text(
        '[target]\ncommand = ["python", "app.py", "--port", "{port}"]\n'
    )
    target = load_settings({}, environ={}, cwd=tmp_path)[0].target
    assert target.upstreams == [] and target.memory_endpoints is None
    assert target.alert_rules is None and target.leak_env is None
    assert "AZURE_OPENAI_ENDPOINT" not in target.env and target.workdir == tmp_path
    assert target.name != "resume_api"


def test_a_service_names_only_the_memory_endpoints_it_has(tmp_path: Path) -> None:
    (tmp_path / "leak-harness.toml").write_text(
        '[target]\ncommand = ["svc"]\nmemory_endpoints = { stats = "/stats" }\n'
    )
    endpoints = load_settings({}, environ={}, cwd=tmp_path)[0].target.memory_endpoints
    assert endpoints is not None and endpoints.stats == "/stats"
    assert (endpoints.gc, endpoints.clear_cache, endpoints.health) == (None, None, None)
    (tmp_path / "leak-harness.toml").write_text(
        '[target]\ncommand = ["svc"]\nmemory_endpoints = {}\n'
    )
    assert load_settings({}, environ={}, cwd=tmp_path)[0].target.memory_endpoints is None


def test_the_bundled_service_run_from_a_table_keeps_its_parts(tmp_path: Path) -> None:
    (tmp_path / "leak-harness.toml").write_text(
        '[target]\ncommand = ["{python}", "-m", "resume_api", "--port", "{port}"]\n'
    )
    target = load_settings({}, environ={}, cwd=tmp_path)[0].target
    assert target.memory_endpoints is not None and len(target.upstreams) == 2


def test_unknown_setting_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "leak-harness.toml").write_text("backnd = 'process'\n")
    with pytest.raises(ConfigError, match="backnd"):
        load_settings({}, environ={}, cwd=tmp_path)


def test_leaks_from_environment_are_split() -> None:
    settings, _ = load_settings(
        {}, environ={"LEAK_HARNESS_LEAKS": "unbounded-cache:1K,native-malloc"}, cwd=Path("/")
    )
    assert settings.leaks == ["unbounded-cache:1K", "native-malloc"]


def test_secrets_are_redacted() -> None:
    data = {"env": {"AZURE_OPENAI_API_KEY": "abc", "PORT": "1"}, "password": "x", "keys": ["k"]}
    assert redact(data) == {
        "env": {"AZURE_OPENAI_API_KEY": "***", "PORT": "1"},
        "password": "***",
        "keys": ["***"],
    }
