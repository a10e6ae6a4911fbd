"""Service settings, read from the environment under the names the real service uses."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from resume_api.leaks import LeakSpec, parse_leaks


class SettingsError(ValueError):
    """A setting has a value the service cannot start with."""


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = _float(env, name, default)
    if value != int(value):
        raise SettingsError(f"{name}={env.get(name)!r} is not a whole number")
    return int(value)


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"", "false", "0", "no", "off"})


def _flag(env: Mapping[str, str], name: str) -> bool:
    """Off unless set to a yes; a value that is neither is refused, not guessed, so a typo in
    a flag that opens endpoints is told at boot instead of silently meaning either."""
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(f"{name}={env.get(name)!r} is not true/1/yes or false/0/no")


def _default_snapshot_dir() -> Path:
    """One fixed directory per user (not per process: restarts must not add directories)."""
    return Path(tempfile.gettempdir()) / f"resume_api-snapshots-{os.getuid()}"


def parse_connection_string(text: str) -> dict[str, str]:
    """The parts of an Azure Storage connection string; a clear error when one is missing."""
    parts = dict(part.split("=", 1) for part in text.split(";") if "=" in part)
    missing = [name for name in ("AccountName", "AccountKey") if not parts.get(name)]
    if missing:
        raise ValueError(
            f"AZURE_STORAGE_CONNECTION_STRING has no {' or '.join(missing)} "
            "(expected 'DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;...')"
        )
    return parts


@dataclass(frozen=True)
class Settings:
    azure_endpoint: str = "http://127.0.0.1:8001"
    azure_api_key: str = "fake-azure-openai-key"
    api_version: str = "2025-01-01-preview"
    chat_deployment: str = "gpt-4.1"
    mini_deployment: str = "gpt-4.1-mini"
    embedding_deployment: str = "text-embedding-3-large"
    embedding_dimensions: int = 3072
    llm_timeout_s: float = 30.0
    llm_max_retries: int = 2
    api_key: str | None = None
    environment: str = "development"  # informational: it guards nothing (see below)
    # the memory endpoints that change or reveal state answer only when this is set
    memory_endpoints_enabled: bool = False
    snapshot_dir: Path = field(default_factory=_default_snapshot_dir)
    snapshot_max_files: int = 20
    snapshot_max_bytes: int = 256 << 20
    memory_warning_mb: float = 1500.0
    memory_critical_mb: float = 1800.0
    container_limit_mb: float = 2048.0
    memory_check_interval_s: float = 30.0
    telemetry_flush_interval_s: float = 5.0
    telemetry_max_events: int = 2000
    embedding_cache_entries: int = 1000
    embedding_cache_ttl_s: float = 3600.0
    storage_connection_string: str | None = None
    resume_container: str = "resumes"
    max_upload_bytes: int = 10 << 20
    upload_concurrency: int = 4
    sas_ttl_s: float = 900.0
    leaks: LeakSpec = field(default_factory=LeakSpec)

    @property
    def is_production(self) -> bool:
        """Only for display: the memory endpoints are guarded by `memory_endpoints_enabled`,
        because a guard keyed on one spelling of ENVIRONMENT failed open on "prod", "staging"
        or an unset variable."""
        return self.environment.lower() == "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()
        settings = cls(
            azure_endpoint=env.get("AZURE_OPENAI_ENDPOINT", defaults.azure_endpoint),
            azure_api_key=env.get("AZURE_OPENAI_API_KEY", defaults.azure_api_key),
            api_version=env.get("AZURE_OPENAI_API_VERSION", defaults.api_version),
            chat_deployment=env.get("AZURE_OPENAI_GPT4_DEPLOYMENT", defaults.chat_deployment),
            mini_deployment=env.get("GPT41_MINI_JAPANEAST_DEPLOYMENT", defaults.mini_deployment),
            embedding_deployment=env.get("EMBEDDING_DEPLOYMENT", defaults.embedding_deployment),
            embedding_dimensions=_int(env, "EMBEDDING_DIMENSIONS", defaults.embedding_dimensions),
            llm_timeout_s=_float(env, "LLM_TIMEOUT_SECONDS", defaults.llm_timeout_s),
            llm_max_retries=_int(env, "LLM_MAX_RETRIES", defaults.llm_max_retries),
            api_key=env.get("CONTAINER_APP_API_KEY") or None,
            environment=env.get("ENVIRONMENT", defaults.environment),
            memory_endpoints_enabled=_flag(env, "MEMORY_ENDPOINTS_ENABLED"),
            snapshot_dir=Path(env.get("RESUME_API_SNAPSHOT_DIR") or defaults.snapshot_dir),
            snapshot_max_files=_int(
                env, "RESUME_API_SNAPSHOT_MAX_FILES", defaults.snapshot_max_files
            ),
            snapshot_max_bytes=_int(
                env, "RESUME_API_SNAPSHOT_MAX_BYTES", defaults.snapshot_max_bytes
            ),
            memory_warning_mb=_float(env, "MEMORY_WARNING_THRESHOLD", defaults.memory_warning_mb),
            memory_critical_mb=_float(
                env, "MEMORY_CRITICAL_THRESHOLD", defaults.memory_critical_mb
            ),
            container_limit_mb=_float(
                env, "CONTAINER_MEMORY_LIMIT_MB", defaults.container_limit_mb
            ),
            memory_check_interval_s=_float(
                env, "MEMORY_CHECK_INTERVAL_SECONDS", defaults.memory_check_interval_s
            ),
            telemetry_flush_interval_s=_float(
                env, "TELEMETRY_FLUSH_INTERVAL_SECONDS", defaults.telemetry_flush_interval_s
            ),
            telemetry_max_events=_int(env, "TELEMETRY_MAX_EVENTS", defaults.telemetry_max_events),
            embedding_cache_entries=_int(
                env, "EMBEDDING_CACHE_MAX_ENTRIES", defaults.embedding_cache_entries
            ),
            embedding_cache_ttl_s=_float(
                env, "EMBEDDING_CACHE_TTL_SECONDS", defaults.embedding_cache_ttl_s
            ),
            storage_connection_string=env.get("AZURE_STORAGE_CONNECTION_STRING") or None,
            resume_container=env.get("RESUME_STORAGE_CONTAINER", defaults.resume_container),
            max_upload_bytes=_int(env, "RESUME_MAX_UPLOAD_BYTES", defaults.max_upload_bytes),
            upload_concurrency=_int(env, "RESUME_UPLOAD_CONCURRENCY", defaults.upload_concurrency),
            sas_ttl_s=_float(env, "RESUME_SAS_TTL_SECONDS", defaults.sas_ttl_s),
            leaks=parse_leaks(env.get("RESUME_API_LEAKS", "")),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if not 0 < self.memory_warning_mb < self.memory_critical_mb <= self.container_limit_mb:
            raise SettingsError(
                "thresholds must satisfy 0 < MEMORY_WARNING_THRESHOLD < "
                "MEMORY_CRITICAL_THRESHOLD <= CONTAINER_MEMORY_LIMIT_MB "
                f"(got {self.memory_warning_mb}, {self.memory_critical_mb}, "
                f"{self.container_limit_mb})"
            )
        for name, value in (
            ("EMBEDDING_CACHE_MAX_ENTRIES", self.embedding_cache_entries),
            ("TELEMETRY_MAX_EVENTS", self.telemetry_max_events),
            ("EMBEDDING_DIMENSIONS", self.embedding_dimensions),
            ("RESUME_MAX_UPLOAD_BYTES", self.max_upload_bytes),
            ("RESUME_UPLOAD_CONCURRENCY", self.upload_concurrency),
            ("RESUME_API_SNAPSHOT_MAX_FILES", self.snapshot_max_files),
            ("RESUME_API_SNAPSHOT_MAX_BYTES", self.snapshot_max_bytes),
        ):
            if value < 1:
                raise SettingsError(f"{name} must be at least 1 (got {value})")
        if self.sas_ttl_s <= 0:
            raise SettingsError(f"RESUME_SAS_TTL_SECONDS must be positive (got {self.sas_ttl_s})")
        if self.storage_connection_string:
            try:
                parse_connection_string(self.storage_connection_string)
            except ValueError as exc:
                raise SettingsError(str(exc)) from None
        if self.llm_max_retries < 0:
            raise SettingsError(f"LLM_MAX_RETRIES must be >= 0 (got {self.llm_max_retries})")
