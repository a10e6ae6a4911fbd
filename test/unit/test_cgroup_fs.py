"""The cgroup sandbox's v1 and v2 code paths, on fake cgroup filesystem trees."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness.target.cgroup_fs import Cgroup, CgroupError

V2_SELF = "0::/user.slice/session-1.scope\n"
V1_SELF = "12:cpu,cpuacct:/\n4:memory:/process_api/abc\n1:name=systemd:/\n"


def v2_tree(root: Path) -> Path:
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    parent = root / "user.slice" / "session-1.scope"
    parent.mkdir(parents=True)
    (parent / "cgroup.subtree_control").write_text("")
    return parent


def test_v2_enables_controllers_and_writes_limits(tmp_path: Path) -> None:
    parent = v2_tree(tmp_path)
    group = Cgroup.create("t1", 2 << 30, cpus=1.0, root=tmp_path, proc_cgroup=V2_SELF)
    assert group.version == 2 and group.memory_dir == parent / "t1"
    assert (group.memory_dir / "memory.max").read_text() == str(2 << 30)
    assert (group.memory_dir / "memory.swap.max").read_text() == "0"
    assert (group.memory_dir / "cpu.max").read_text() == "100000 100000"
    assert group.cpu_limited
    assert "+cpu" in (parent / "cgroup.subtree_control").read_text()


def test_v2_reading_subtracts_inactive_file_and_counts_oom_kills(tmp_path: Path) -> None:
    v2_tree(tmp_path)
    group = Cgroup.create("t2", 1 << 30, root=tmp_path, proc_cgroup=V2_SELF)
    d = group.memory_dir
    (d / "memory.current").write_text("500000000\n")
    (d / "memory.peak").write_text("700000000\n")
    (d / "memory.stat").write_text("anon 300000000\ninactive_file 100000000\nshmem 4096\n")
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    reading = group.read()
    assert reading.working_set_bytes == 400_000_000
    assert reading.peak_bytes == 700_000_000 and reading.limit_bytes == 1 << 30
    assert reading.shmem_bytes == 4096 and reading.oom_kills == 1


def test_v1_uses_the_memory_hierarchy_and_memsw(tmp_path: Path) -> None:
    own = tmp_path / "memory" / "process_api" / "abc"
    own.mkdir(parents=True)
    (tmp_path / "cpu").mkdir()
    group = Cgroup.create("t3", 256 << 20, cpus=0.5, root=tmp_path, proc_cgroup=V1_SELF)
    assert group.version == 1 and group.memory_dir == own / "t3"
    d = group.memory_dir
    assert (d / "memory.limit_in_bytes").read_text() == str(256 << 20)
    assert group.cpu_dir == tmp_path / "cpu" / "t3"
    assert (group.cpu_dir / "cpu.cfs_quota_us").read_text() == "50000"
    (d / "memory.usage_in_bytes").write_text("300\n")
    (d / "memory.max_usage_in_bytes").write_text("900\n")
    (d / "memory.stat").write_text("total_inactive_file 100\ntotal_shmem 7\n")
    (d / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    reading = group.read()
    assert (reading.working_set_bytes, reading.peak_bytes, reading.oom_kills) == (200, 900, 2)


def test_no_cgroup_tells_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CgroupError, match="--backend docker or --backend process"):
        Cgroup.create("t4", 1 << 30, root=tmp_path, proc_cgroup=V2_SELF)


def test_leftover_cgroup_is_reported(tmp_path: Path) -> None:
    parent = v2_tree(tmp_path)
    (parent / "t5").mkdir()
    with pytest.raises(CgroupError, match="already exists"):
        Cgroup.create("t5", 1 << 30, root=tmp_path, proc_cgroup=V2_SELF)


@pytest.mark.parametrize("version", [1, 2])
def test_groups_of_dead_harnesses_are_found_live_ones_kept(tmp_path: Path, version: int) -> None:
    dead_pid = _exited_pid()
    if version == 2:
        parent, proc_cgroup = v2_tree(tmp_path), V2_SELF
    else:
        parent, proc_cgroup = tmp_path / "memory" / "process_api" / "abc", V1_SELF
        parent.mkdir(parents=True)
    names = [f"leak-harness-{dead_pid}-aa", f"leak-harness-{os.getpid()}-bb", "leak-harness-12ab"]
    for name in [*names, "other-group"]:
        (parent / name).mkdir()
    found = Cgroup.owned_by_dead_harnesses("leak-harness-", root=tmp_path, proc_cgroup=proc_cgroup)
    assert [group.memory_dir.name for group in found] == [names[0]]
    found[0].remove()
    assert not (parent / names[0]).exists() and (parent / names[1]).exists()


def _exited_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
