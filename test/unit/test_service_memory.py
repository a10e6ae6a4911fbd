from __future__ import annotations

from pathlib import Path

import pytest

from resume_api import memory


def _fake_proc_cgroup(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    real_read_text = Path.read_text

    def read_text(self: Path, *args: object, **kwargs: object) -> str:
        if str(self) == "/proc/self/cgroup":
            return text
        return real_read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", read_text)


def test_cgroup_v2_working_set_is_usage_minus_inactive_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = tmp_path / "app.slice"
    group.mkdir()
    (group / "memory.current").write_text("300000000\n")
    (group / "memory.max").write_text("2147483648\n")
    (group / "memory.stat").write_text("anon 200000000\ninactive_file 50000000\nactive_file 1\n")
    _fake_proc_cgroup(monkeypatch, "0::/app.slice\n")
    reading = memory.container_memory(tmp_path)
    assert reading == memory.ContainerMemory(300000000, 250000000, 2147483648, 2)


def test_cgroup_v1_reads_the_memory_controller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = tmp_path / "memory" / "docker" / "abc"
    group.mkdir(parents=True)
    (group / "memory.usage_in_bytes").write_text("1000\n")
    (group / "memory.limit_in_bytes").write_text("4096\n")
    (group / "memory.stat").write_text("cache 10\ntotal_inactive_file 100\n")
    _fake_proc_cgroup(monkeypatch, "5:cpu:/\n4:memory:/docker/abc\n0::/\n")
    assert memory.container_memory(tmp_path) == memory.ContainerMemory(1000, 900, 4096, 1)


def test_unlimited_cgroup_is_not_a_container(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "memory.current").write_text("1000\n")
    (tmp_path / "memory.max").write_text("max\n")
    _fake_proc_cgroup(monkeypatch, "0::/\n")
    assert memory.container_memory(tmp_path) is None
