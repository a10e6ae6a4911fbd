from __future__ import annotations

import pytest

from resume_api.config import Settings, SettingsError
from resume_api.leaks import LeakSpecError


def test_defaults_match_the_memory_guide() -> None:
    settings = Settings.from_env({})
    assert (settings.memory_warning_mb, settings.memory_critical_mb) == (1500.0, 1800.0)
    assert settings.container_limit_mb == 2048.0
    assert settings.embedding_cache_entries == 1000
    assert not settings.leaks and settings.api_key is None


def test_reads_the_service_variable_names() -> None:
    settings = Settings.from_env(
        {
            "MEMORY_WARNING_THRESHOLD": "700",
            "MEMORY_CRITICAL_THRESHOLD": "900",
            "CONTAINER_MEMORY_LIMIT_MB": "1024",
            "CONTAINER_APP_API_KEY": "secret",
            "ENVIRONMENT": "production",
            "RESUME_API_LEAKS": "shm-spill:1K",
        }
    )
    assert settings.memory_warning_mb == 700 and settings.container_limit_mb == 1024
    assert settings.api_key == "secret" and settings.is_production
    assert dict(settings.leaks.rates) == {"shm-spill": 1024}


@pytest.mark.parametrize(
    ("env", "error", "message"),
    [
        ({"MEMORY_WARNING_THRESHOLD": "lots"}, SettingsError, "not a number"),
        ({"MEMORY_WARNING_THRESHOLD": "1900"}, SettingsError, "thresholds must satisfy"),
        ({"EMBEDDING_CACHE_MAX_ENTRIES": "0"}, SettingsError, "at least 1"),
        ({"RESUME_API_LEAKS": "bogus"}, LeakSpecError, "unknown leak switch"),
    ],
)
def test_bad_settings_say_what_to_fix(
    env: dict[str, str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Settings.from_env(env)
