"""How to boot a service under test, as configuration: any HTTP service can be a target.

The bundled resume_api is simply the default. Placeholders in `command` and `env` values:
`{port}` (a free loopback port picked by the harness), `{python}` (the harness's interpreter)
and `{upstream.NAME}` / `{upstream.NAME.key}` (the URL and key of an upstream the harness booted:
azure-openai, the fake Azure OpenAI; azurite, the storage emulator, whose key is its
connection string)."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def _service_dir() -> Path:
    """The bundled service's package, located (not imported) wherever it is installed."""
    found = find_spec("resume_api")
    if found is None or found.origin is None:  # only the default target needs it
        return Path.cwd() / "resume_api"
    return Path(found.origin).resolve().parent


#: the default target's package (its alert rules and Dockerfile inside) and the directory
#: above it, where it runs and whose resume_api/ its docker build copies
SERVICE_DIR = _service_dir()
SERVICE_HOME = SERVICE_DIR.parent


class MemoryEndpoints(BaseModel):
    """The app's own memory endpoints (paths), for the app-side series and the cleanup phase,
    and how the app wants its API key on them: the name of the target's environment variable
    that holds the key (its value is looked up at run time and never recorded) and the header
    it goes in. No key found: nothing is sent."""

    model_config = ConfigDict(extra="forbid")

    stats: str | None = "/api/v1/memory/stats"
    health: str | None = "/api/v1/memory/health"
    gc: str | None = "/api/v1/memory/gc"
    clear_cache: str | None = "/api/v1/memory/clear-cache"
    api_key_env: str | None = "CONTAINER_APP_API_KEY"
    api_key_header: str = "X-API-Key"


class UpstreamSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = "azure-openai"  # or "azurite" (harness/upstream/launch.py)
    args: list[str] = Field(default_factory=list)  # extra `leak-harness stub` options


class TargetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "resume_api"
    command: list[str] = Field(
        default_factory=lambda: ["{python}", "-m", "resume_api", "--port", "{port}"]
    )
    env: dict[str, str] = Field(
        default_factory=lambda: {
            "AZURE_OPENAI_ENDPOINT": "{upstream.azure-openai}",
            "AZURE_OPENAI_API_KEY": "{upstream.azure-openai.key}",
            "AZURE_STORAGE_CONNECTION_STRING": "{upstream.azurite.key}",
            "PYTHONUNBUFFERED": "1",
            # the service keeps its memory endpoints closed unless asked; the harness needs them
            "MEMORY_ENDPOINTS_ENABLED": "true",
        }
    )
    workdir: Path = SERVICE_HOME
    health_path: str = "/health"
    startup_timeout_s: float = 60.0
    # what asks the target to shut down (its stop signal, in a container too); SIGINT unwinds a
    # Python target through its `finally` blocks, which a profiler needs to write its capture
    stop_signal: Literal["SIGTERM", "SIGINT"] = "SIGTERM"
    python: bool = True  # the target is a Python process: inject the heap agent
    memory_endpoints: MemoryEndpoints | None = Field(default_factory=MemoryEndpoints)
    alert_rules: Path | None = SERVICE_DIR / "alert_rules.yml"
    upstreams: list[UpstreamSpec] = Field(
        default_factory=lambda: [UpstreamSpec(), UpstreamSpec(kind="azurite")]
    )
    leak_env: str | None = "RESUME_API_LEAKS"  # where --leak switches go (None: not supported)
    # docker backend
    dockerfile: Path = SERVICE_DIR / "Dockerfile"
    docker_context: Path = SERVICE_HOME
    image: str | None = None  # use this image instead of building the Dockerfile
    build_args: dict[str, str] = Field(default_factory=dict)  # for the Dockerfile's ARGs
    # host directories the target writes into (a profiler's capture): a container gets each
    # bound at the same path, writable by its non-root user
    writable_dirs: list[Path] = Field(default_factory=list)
    # host directories the target reads (the harness's heap agent), bound read-only likewise
    readonly_dirs: list[Path] = Field(default_factory=list)
    container_port: int = 8000
    # remote backend
    url: str | None = None


#: what a `[target]` table leaves unsaid for a service of the user's own: not the bundled
#: service's fake upstreams, memory endpoints, alert rules and leak switches (a table that
#: named only its command got an Azure OpenAI stub booted, 404s polled from
#: /api/v1/memory/stats every sample and the bundled alert rules checked as its own)
SERVICE_DEFAULTS: dict[str, Any] = {
    "name": "service",
    "env": {"PYTHONUNBUFFERED": "1"},
    "workdir": ".",  # the directory of the file that names the table
    "upstreams": [],
    "memory_endpoints": None,
    "alert_rules": None,
    "leak_env": None,
}
_NO_ENDPOINTS = dict.fromkeys(("stats", "health", "gc", "clear_cache", "api_key_env"))


def service_table(table: dict[str, Any]) -> dict[str, Any]:
    """A `[target]` table with the defaults of the service it describes: the bundled one's
    when it runs `-m resume_api` (its settings tuned), otherwise SERVICE_DEFAULTS; the memory
    endpoints it names are the only ones (an empty table: none)."""
    command = table.get("command")
    if isinstance(command, list) and "resume_api" in command:
        return table
    filled = {**SERVICE_DEFAULTS, **table}
    endpoints = filled["memory_endpoints"]
    if isinstance(endpoints, dict):
        named = {key: value for key, value in endpoints.items() if value != ""}
        paths = [key for key in named if key in ("stats", "health", "gc", "clear_cache")]
        filled["memory_endpoints"] = {**_NO_ENDPOINTS, **named} if paths else None
    return filled


def expand(text: str, values: dict[str, str]) -> str:
    """Fill `{name}` placeholders; other braces are left alone (commands may contain JSON)."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text
