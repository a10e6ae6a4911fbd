"""The bundled service's memory endpoints, in process: closed unless MEMORY_ENDPOINTS_ENABLED
says yes (whatever ENVIRONMENT says), and the heap snapshot bounded in place, count and size."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from resume_api.app import create_app
from resume_api.config import Settings, SettingsError

#: every memory endpoint that changes or reveals state: (method, path)
GUARDED = [
    ("GET", "/api/v1/memory/stats"),
    ("POST", "/api/v1/memory/gc"),
    ("POST", "/api/v1/memory/clear-cache"),
    ("GET", "/api/v1/memory/heap?limit=3"),
    ("POST", "/api/v1/memory/heap/start?frames=1"),
    ("POST", "/api/v1/memory/heap/snapshot?name=guard"),
]
ENABLED = {"MEMORY_ENDPOINTS_ENABLED": "true"}


@pytest.fixture(autouse=True)
def _tracemalloc_restored() -> Iterator[None]:
    """heap/start starts tracemalloc in this process: stop it again if it was off."""
    was_tracing = tracemalloc.is_tracing()
    yield
    if not was_tracing:
        tracemalloc.stop()


def _client(tmp_path: Path, env: dict[str, str]) -> TestClient:
    settings = Settings.from_env({"RESUME_API_SNAPSHOT_DIR": str(tmp_path / "snaps"), **env})
    return TestClient(create_app(settings))


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"ENVIRONMENT": "prod"},
        {"ENVIRONMENT": "staging"},
        {"ENVIRONMENT": "production"},
        {"ENVIRONMENT": "development"},
        {"MEMORY_ENDPOINTS_ENABLED": "false"},
        {"MEMORY_ENDPOINTS_ENABLED": "0"},
    ],
    ids=["unset", "prod", "staging", "production", "development", "false", "zero"],
)
@pytest.mark.parametrize(("method", "path"), GUARDED, ids=[p for _, p in GUARDED])
def test_memory_endpoints_are_closed_unless_enabled(
    tmp_path: Path, env: dict[str, str], method: str, path: str
) -> None:
    with _client(tmp_path, env) as client:
        if path.endswith("heap/snapshot?name=guard"):
            tracemalloc.start(1)  # tracing would not open it either
        response = client.request(method, path)
        assert response.status_code == 403, response.text
        assert "MEMORY_ENDPOINTS_ENABLED" in response.json()["error"]["message"]
    assert not (tmp_path / "snaps").exists() or not any((tmp_path / "snaps").iterdir())


@pytest.mark.parametrize(
    "env",
    [ENABLED, {"MEMORY_ENDPOINTS_ENABLED": "YES"}, {**ENABLED, "ENVIRONMENT": "production"}],
    ids=["true", "YES", "production-but-enabled"],
)
@pytest.mark.parametrize(("method", "path"), GUARDED, ids=[p for _, p in GUARDED])
def test_memory_endpoints_answer_when_enabled(
    tmp_path: Path, env: dict[str, str], method: str, path: str
) -> None:
    with _client(tmp_path, env) as client:
        if path.endswith("heap/snapshot?name=guard"):
            assert client.post("/api/v1/memory/heap/start?frames=1").status_code == 200
        response = client.request(method, path)
        assert response.status_code == 200, response.text
        assert response.json()["success"] is True


@pytest.mark.parametrize("env", [{}, {"ENVIRONMENT": "production"}, ENABLED])
def test_memory_health_stays_open_for_monitoring(tmp_path: Path, env: dict[str, str]) -> None:
    with _client(tmp_path, env) as client:
        response = client.get("/api/v1/memory/health")
        assert response.status_code == 200 and response.json()["data"]["status"]


def test_the_api_key_is_still_asked_first(tmp_path: Path) -> None:
    with _client(tmp_path, {**ENABLED, "CONTAINER_APP_API_KEY": "sekret"}) as client:
        assert client.get("/api/v1/memory/stats").status_code == 401
        answer = client.get("/api/v1/memory/stats", headers={"X-API-Key": "sekret"})
        assert answer.status_code == 200


@pytest.mark.parametrize(
    ("raw", "enabled"),
    [("true", True), ("TRUE", True), ("Yes", True), ("1", True), ("", False), ("no", False)],
)
def test_the_flag_reads_yes_and_no(raw: str, enabled: bool) -> None:
    assert Settings.from_env({"MEMORY_ENDPOINTS_ENABLED": raw}).memory_endpoints_enabled is enabled


def test_the_flag_refuses_a_typo_at_boot() -> None:
    with pytest.raises(SettingsError, match="MEMORY_ENDPOINTS_ENABLED"):
        Settings.from_env({"MEMORY_ENDPOINTS_ENABLED": "ture"})


def _snapshot(client: TestClient, name: str) -> tuple[int, dict[str, object]]:
    response = client.post("/api/v1/memory/heap/snapshot", params={"name": name})
    return response.status_code, response.json()


def test_snapshots_are_kept_in_the_one_directory_up_to_the_count(tmp_path: Path) -> None:
    env = {**ENABLED, "RESUME_API_SNAPSHOT_MAX_FILES": "2"}
    snaps = tmp_path / "snaps"
    with _client(tmp_path, env) as client:
        client.post("/api/v1/memory/heap/start?frames=1")
        for name in ("first", "second"):
            status, body = _snapshot(client, name)
            assert status == 200, body
            assert Path(str(body["data"]["path"])).parent == snaps  # type: ignore[index]
        status, body = _snapshot(client, "third")
        assert status == 409 and body["error"]["code"] == "SNAPSHOT_LIMIT"  # type: ignore[index]
        assert "RESUME_API_SNAPSHOT_MAX_FILES=2" in body["error"]["message"]  # type: ignore[index]
        assert _snapshot(client, "first")[0] == 200  # reusing a name replaces that file
    assert sorted(p.name for p in snaps.iterdir()) == ["first.tracemalloc", "second.tracemalloc"]


def test_a_snapshot_over_the_size_bound_is_refused_and_not_kept(tmp_path: Path) -> None:
    with _client(tmp_path, {**ENABLED, "RESUME_API_SNAPSHOT_MAX_BYTES": "1"}) as client:
        client.post("/api/v1/memory/heap/start?frames=1")
        status, body = _snapshot(client, "big")
        assert status == 413 and body["error"]["code"] == "SNAPSHOT_TOO_LARGE"  # type: ignore[index]
    assert list((tmp_path / "snaps").iterdir()) == []


@pytest.mark.parametrize("name", ["../escape", "..", ".hidden", "a/b", "/etc/passwd", "x" * 81])
def test_a_snapshot_name_is_a_file_name_not_a_path(tmp_path: Path, name: str) -> None:
    with _client(tmp_path, ENABLED) as client:
        client.post("/api/v1/memory/heap/start?frames=1")
        status, _ = _snapshot(client, name)
        assert status == 422
    assert not list(tmp_path.parent.glob("escape*")) and not (tmp_path / "snaps").exists()
