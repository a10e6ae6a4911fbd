"""Run settings, merged with the precedence CLI > environment > file > defaults.

The file is `leak-harness.toml` (or `--config PATH`), or `[tool.leak-harness]` in
pyproject.toml. Environment variables are LEAK_HARNESS_<SETTING> (e.g.
LEAK_HARNESS_BACKEND=process, LEAK_HARNESS_MEMORY_LIMIT=1g). A `[target]` table describes the
service under test (see harness.target.spec)."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.errors import UsageError
from harness.load.scenario import Profile, Scenario, ScenarioError
from harness.target.spec import TargetSpec, service_table

Backend = Literal["auto", "cgroup", "docker", "process", "remote"]
BACKENDS: tuple[str, ...] = ("auto", "cgroup", "docker", "process", "remote")

#: below this no Python web service starts (the interpreter and a framework's imports alone
#: take tens of MiB): a smaller limit is a typo (`1k` for `1g`), not a test
MIN_MEMORY_LIMIT = 32 << 20

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


class ConfigError(UsageError, ValueError):
    """A setting is wrong; the message names it and says what is expected."""


def parse_size(text: str | int) -> int:
    """`2g`, `2GiB`, `512m`, `1048576` -> bytes (binary units, as container limits are)."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    if not match:
        raise ConfigError(f"{text!r} is not a size; use e.g. 2g, 512MiB or a number of bytes")
    return int(float(match.group(1)) * 1024 ** _POWERS[match.group(2).lower()])


class RunSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: str = "quick"
    backend: Backend = "auto"
    memory_limit: int = 2 << 30
    cpus: float | None = Field(default=1.0, gt=0)
    leaks: list[str] = Field(default_factory=list)
    duration_s: float | None = Field(default=None, gt=0)  # overrides the scenario's
    max_duration_s: float | None = Field(default=None, gt=0)  # the longest a steady load may go
    users: int | None = Field(default=None, ge=1)
    sample_interval_s: float | None = Field(default=None, ge=0.2)
    tracemalloc_frames: int | None = Field(default=None, ge=0, le=100)
    profile: Profile | None = None  # overrides the scenario's (memray: native stacks)
    out: Path = Path("reports")
    locustfile: Path | None = None
    locust_processes: int = Field(default=1, ge=1)
    locust_expect_workers: int = Field(default=0, ge=0)
    host: str | None = None  # remote target URL (same as [target] url)
    quiet: bool = False
    json_output: bool = False
    target: TargetSpec = Field(default_factory=TargetSpec)

    @field_validator("memory_limit", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        size = parse_size(value) if isinstance(value, str) else value
        if isinstance(size, int) and size < MIN_MEMORY_LIMIT:
            raise ValueError(
                f"{size} bytes is below {MIN_MEMORY_LIMIT >> 20} MiB, less than any Python "
                "service needs to start; use e.g. 2g or 512m"
            )
        return size

    @field_validator("host")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            check_url(value, "--host")
        return value

    @field_validator("leaks", mode="before")
    @classmethod
    def _leaks(cls, value: Any) -> Any:
        return (
            [part for part in value.split(",") if part.strip()] if isinstance(value, str) else value
        )


ENV_PREFIX = "LEAK_HARNESS_"
_ENV_SETTINGS = (
    "scenario",
    "backend",
    "memory_limit",
    "cpus",
    "leaks",
    "duration_s",
    "max_duration_s",
    "users",
    "sample_interval_s",
    "tracemalloc_frames",
    "profile",
    "out",
    "locustfile",
    "host",
)


def _file_settings(path: Path | None, cwd: Path) -> tuple[dict[str, Any], Path | None]:
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        candidates = [path]
    else:
        candidates = [cwd / "leak-harness.toml", cwd / "pyproject.toml"]
    for candidate in candidates:
        if not candidate.is_file():
            continue
        try:
            data = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{candidate}: not valid TOML ({exc})") from None
        if candidate.name == "pyproject.toml" and path is None:
            data = data.get("tool", {}).get("leak-harness")
            if data is None:
                continue
        return data, candidate
    return {}, None


def _env_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in _ENV_SETTINGS:
        value = environ.get(ENV_PREFIX + name.upper())
        if value is not None and value != "":
            found[name] = value
    return found


def load_settings(
    cli: Mapping[str, Any],
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[RunSettings, Path | None]:
    """Merged settings and the file they came from (None: defaults only)."""
    environ = os.environ if environ is None else environ
    file_data, source = _file_settings(config_path, cwd or Path.cwd())
    merged: dict[str, Any] = {**file_data}
    merged.update(_env_settings(environ))
    merged.update({k: v for k, v in cli.items() if v is not None})
    if source is not None and "target" in file_data:
        merged["target"] = _relative_paths(service_table(file_data["target"]), source.parent)
    try:
        settings = RunSettings.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        where = f" (from {source})" if source else ""
        raise ConfigError(f"invalid settings{where}: {problems}") from None
    if settings.host and not settings.target.url:
        settings.target.url = settings.host
    if settings.target.url is not None:
        check_url(settings.target.url, "[target] url")
    if settings.backend == "remote" and not settings.target.url:
        raise ConfigError(
            "the remote backend needs the service's URL: --host http://HOST:PORT or [target] url"
        )
    return settings, source


def check_url(url: str, where: str) -> None:
    """A service URL the harness can reach: http(s)://host[:port][/path]."""
    parts = urlsplit(url)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ConfigError(f"{where} {url!r} is not a service URL; use e.g. http://127.0.0.1:8000")


def _relative_paths(target: Any, base: Path) -> Any:
    """Paths in a [target] table are relative to the file that names them."""
    if not isinstance(target, dict):
        return target
    fixed = dict(target)
    for key in ("workdir", "alert_rules", "dockerfile", "docker_context"):
        if isinstance(fixed.get(key), str):
            fixed[key] = str((base / fixed[key]).resolve())
    return fixed


def check_leaks(settings: RunSettings) -> None:
    """The bundled service's leak switches are known by name: a typo is a usage error now,
    not a target that fails to boot after the first scenario."""
    if settings.leaks and settings.target.leak_env == "RESUME_API_LEAKS":
        from resume_api.leaks import LeakSpecError, parse_leaks  # the bundled service's

        try:
            parse_leaks(",".join(settings.leaks))
        except LeakSpecError as exc:
            raise ConfigError(f"--leak: {exc}") from None


def effective_scenario(scenario: Scenario, settings: RunSettings) -> Scenario:
    """The scenario with the CLI's overrides applied (one that no longer holds together is a
    usage error naming the option)."""
    changes: dict[str, Any] = {}
    if settings.duration_s is not None:
        changes["duration_s"] = settings.duration_s
        changes["max_duration_s"] = None  # a length asked for is the length
    if settings.max_duration_s is not None:
        changes["max_duration_s"] = settings.max_duration_s
    if settings.users is not None:
        changes["users"] = settings.users
    if settings.sample_interval_s is not None:
        changes["sample_interval_s"] = settings.sample_interval_s
    if settings.tracemalloc_frames is not None:
        changes["tracemalloc_frames"] = settings.tracemalloc_frames
    if settings.profile is not None:
        changes["profile"] = settings.profile
    try:
        return Scenario.model_validate({**scenario.model_dump(), **changes})
    except ValidationError as exc:
        problems = "; ".join(err["msg"].removeprefix("Value error, ") for err in exc.errors())
        raise ScenarioError(
            f"scenario {scenario.name} with the options given: {problems}"
        ) from None
