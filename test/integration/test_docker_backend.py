"""`leak-harness run --backend docker` for real: a complete run directory from a container with
an enforced 2 GiB limit, an OOM kill recorded from the engine's OOMKilled, SIGINT and SIGKILL of
the harness, and never a container left behind. Skipped, with the reason, when no Docker engine
answers (scripts/docker_setup.sh starts one)."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from support.docker_engine import needs_engine
from support.scenarios import tiny_scenario

from harness.target.docker import OWNER_LABEL, RUN_LABEL, DockerTarget, find_cgroup
from harness.target.spec import TargetSpec

ROOT = Path(__file__).resolve().parents[2]


def containers(**filters: str) -> list[str]:
    """`docker ps -a` names matching label filters (key=value)."""
    import docker

    client = docker.from_env(timeout=30)
    try:
        labels = [f"{k}={v}" for k, v in filters.items()]
        found = client.containers.list(all=True, filters={"label": labels})
        return [str(c.name) for c in found]
    finally:
        client.close()


def harness_command(tmp_path: Path, duration: int, *args: str) -> list[str]:
    scenario = tmp_path / "tiny.toml"
    tiny_scenario(scenario, duration)
    return [
        sys.executable,
        "-m",
        "harness",
        "run",
        "--scenario",
        str(scenario),
        "--out",
        str(tmp_path / "reports"),
        "--backend",
        "docker",
        *args,
    ]


def load(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, str]], list[dict[str, Any]]]:
    meta = json.loads((run_dir / "run.json").read_text())
    with (run_dir / "samples.csv").open() as handle:
        samples = list(csv.DictReader(handle))
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return meta, samples, events


def assert_no_container_left(run_dir: Path, meta: dict[str, Any]) -> None:
    assert containers(**{RUN_LABEL: str(run_dir.resolve())}) == []
    name = meta["target_backend"]["container"]
    assert name not in containers(), f"container {name} left behind"
    cgroup = meta["target_backend"].get("cgroup")
    assert not cgroup or not Path(cgroup).exists(), f"cgroup {cgroup} left behind"


@needs_engine
def test_docker_run_leaves_a_complete_run_directory(tmp_path: Path, service_image: str) -> None:
    command = harness_command(tmp_path, 6, "--quiet", "--json")
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    run_dir = Path(json.loads(done.stdout.strip().splitlines()[-1])["run_dir"])
    meta, samples, events = load(run_dir)
    backend = meta["target_backend"]
    assert meta["outcome"]["status"] == "completed"
    assert backend["backend"] == "docker" and backend["image"] == service_image
    assert backend["memory_limit_enforced"] is True and backend["memory_limit_bytes"] == 2 << 30
    assert backend["cpu_limit_enforced"] is True and backend["cpus"] == 1.0
    assert backend["readings"] == "cgroup", backend  # from the container's cgroup on the host
    measured = [row for row in samples if row["phase"] in ("startup", "warm-up", "load-1")]
    assert measured
    for row in measured:
        assert int(row["working_set"]) > 10 << 20, row
        assert int(row["cgroup_usage"]) >= int(row["working_set"]), row
        assert int(row["cgroup_peak"]) >= int(row["cgroup_usage"]), row
        assert int(row["cgroup_limit"]) == 2 << 30, row
        assert int(row["rss"]) > 10 << 20 and int(row["processes"]) >= 1, row  # host pids
    load_rows = [row for row in samples if row["phase"] == "load-1"]
    assert int(load_rows[-1]["requests"]) > int(load_rows[0]["requests"]) > 0
    assert all(row["app_heap"] for row in load_rows)  # the agent traced inside the container
    heaps = sorted(p.name for p in (run_dir / "heap").glob("*.tracemalloc"))
    assert heaps == [
        "01-warm-up-end.tracemalloc",
        "02-load-1-end.tracemalloc",
        "03-after-cleanup.tracemalloc",
    ]
    assert [e["returncode"] for e in events if e["event"] == "target-stopped"] == [0]
    assert (run_dir / "target.log").is_file()
    assert_no_container_left(run_dir, meta)


@needs_engine
def test_oom_kill_comes_from_the_engine(tmp_path: Path, service_image: str) -> None:
    del service_image
    command = harness_command(
        tmp_path, 60, "--quiet", "--json", "--memory-limit", "256m", "--leak", "native-malloc:4M"
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    run_dir = Path(summary["run_dir"])
    meta, samples, events = load(run_dir)
    assert meta["outcome"]["status"] == "oom-killed" and summary["returncode"] == 137
    assert any(e["event"] == "oom-killed" for e in events)
    assert meta["target_backend"]["memory_limit_bytes"] == 256 << 20
    assert max(int(row["cgroup_peak"] or 0) for row in samples) > 200 << 20
    assert {int(row["cgroup_limit"]) for row in samples if row["cgroup_limit"]} == {256 << 20}
    assert_no_container_left(run_dir, meta)


@needs_engine
def test_sigint_removes_the_container(tmp_path: Path, service_image: str) -> None:
    del service_image
    command = harness_command(tmp_path, 60, "--quiet")
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    run_dir = _wait_for_load(tmp_path, process)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)  # one Ctrl-C is enough
    assert process.returncode == 130, err
    meta, samples, events = load(run_dir)
    assert meta["outcome"]["status"] == "interrupted" and samples
    assert events[-1]["event"] == "run-end"
    assert_no_container_left(run_dir, meta)


@needs_engine
def test_a_container_of_a_killed_harness_is_removed_by_the_next(
    tmp_path: Path, service_image: str
) -> None:
    """SIGKILL leaves no chance to clean up: the next docker target removes the orphan."""
    del service_image
    process = subprocess.Popen(
        harness_command(tmp_path, 60, "--quiet"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    run_dir = _wait_for_load(tmp_path, process)
    children = psutil.Process(process.pid).children(recursive=True)
    process.kill()
    process.wait(10)
    for child in children:  # its Locust and fake upstream: ours to stop, by pid
        child.kill()
    orphans = containers(**{RUN_LABEL: str(run_dir.resolve())})
    assert len(orphans) == 1
    target = DockerTarget(TargetSpec(), 2 << 30, 1.0)  # sweeps on creation
    target.cleanup()
    assert containers(**{RUN_LABEL: str(run_dir.resolve())}) == []
    assert all(not label.endswith(f":{process.pid}") for label in _owner_labels())


def _owner_labels() -> list[str]:
    import docker

    client = docker.from_env(timeout=30)
    try:
        found = client.containers.list(all=True, filters={"label": OWNER_LABEL})
        return [str(c.labels[OWNER_LABEL]) for c in found]
    finally:
        client.close()


def _wait_for_load(tmp_path: Path, process: subprocess.Popen[Any]) -> Path:
    latest = tmp_path / "reports" / "latest"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        events = latest / "events.jsonl"
        if events.exists() and '"load-1"' in events.read_text():
            return latest.resolve()
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    pytest.fail("the run never reached its load phase")


# -- no engine needed ------------------------------------------------------------------------
def _fake_proc(tmp_path: Path, cgroup: str, mountinfo: str) -> Path:
    proc = tmp_path / "proc"
    (proc / "42").mkdir(parents=True)
    (proc / "self").mkdir()
    (proc / "42" / "cgroup").write_text(cgroup)
    (proc / "self" / "mountinfo").write_text(mountinfo.format(root=tmp_path))
    return proc


def test_find_cgroup_v1_and_v2(tmp_path: Path) -> None:
    cid = "ab12" * 16
    v1_dir = tmp_path / "memory" / "docker" / cid
    v1_dir.mkdir(parents=True)
    (v1_dir / "memory.stat").write_text("")
    proc = _fake_proc(
        tmp_path,
        f"9:pids:/docker/{cid}\n4:memory:/docker/{cid}\n0::/\n",
        "35 31 0:32 / {root}/memory rw,relatime - cgroup cgroup rw,memory\n",
    )
    found = find_cgroup(42, cid, proc)
    assert found is not None and found.version == 1 and found.memory_dir == v1_dir
    assert find_cgroup(42, "someone-else", proc) is None  # not this container's cgroup

    v2_root = tmp_path / "v2"
    v2_dir = v2_root / "system.slice" / f"docker-{cid}.scope"
    v2_dir.mkdir(parents=True)
    (v2_dir / "memory.stat").write_text("")
    (v2_root / "cgroup.controllers").write_text("cpu io memory pids\n")
    proc = _fake_proc(
        tmp_path / "b",
        f"0::/system.slice/docker-{cid}.scope\n",
        f"30 23 0:26 / {v2_root} rw - cgroup2 cgroup2 rw\n",
    )
    found = find_cgroup(42, cid, proc)
    assert found is not None and found.version == 2 and found.memory_dir == v2_dir


@needs_engine
def test_a_profiled_run_needs_memray_in_the_image(tmp_path: Path, service_image: str) -> None:
    """An image that does not install what the PROFILER build arg names is refused before the
    run, saying how to get it; the bundled Dockerfile installs it."""
    import docker

    from harness.target.base import TargetError
    from harness.target.docker_image import LOCAL_BASE_IMAGE, ensure_image

    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        f"FROM {LOCAL_BASE_IMAGE}\nRUN ln -s /usr/bin/python3 /usr/local/bin/python\n"
    )
    client = docker.from_env(timeout=300)
    without = TargetSpec(name="no-profiler", dockerfile=dockerfile, docker_context=tmp_path)
    without.build_args["PROFILER"] = "memray"
    try:
        with pytest.raises(TargetError, match=r"has no memray .*declares `ARG PROFILER`"):
            ensure_image(client, without, lambda _line: None)
        profiled = ensure_image(client, TargetSpec(build_args={"PROFILER": "memray"}), print)
        assert profiled != service_image  # its own tag: the unprofiled image is untouched
    finally:
        for image in client.images.list(name="leak-harness/no-profiler"):
            client.images.remove(image.id, force=True)
        client.close()
