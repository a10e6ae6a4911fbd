"""`leak-harness run` end to end on the bundled service: the cgroup, process and remote
backends leave a complete run directory; an OOM kill and a SIGINT are recorded as such; and
nothing (process or cgroup) is left behind."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from support.faults import cgroups_work
from support.scenarios import tiny_scenario
from support.service import ServiceProcess

from harness.upstream.process import StubProcess

ROOT = Path(__file__).resolve().parents[2]


needs_cgroup = pytest.mark.skipif(not cgroups_work(), reason="no writable memory cgroup here")


def harness(tmp_path: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    scenario = tmp_path / "tiny.toml"
    tiny_scenario(scenario)
    command = [sys.executable, "-m", "harness", "run", "--scenario", str(scenario)]
    command += ["--out", str(tmp_path / "reports"), "--quiet", "--json", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def run_dir_of(done: subprocess.CompletedProcess[str]) -> Path:
    assert done.stdout.strip(), done.stderr
    return Path(json.loads(done.stdout.strip().splitlines()[-1])["run_dir"])


def load(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, str]], list[dict[str, Any]]]:
    meta = json.loads((run_dir / "run.json").read_text())
    with (run_dir / "samples.csv").open() as handle:
        samples = list(csv.DictReader(handle))
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return meta, samples, events


def assert_nothing_left(meta: dict[str, Any], events: list[dict[str, Any]]) -> None:
    for event in events:
        for pid in event.get("pids", []):
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie", pid
    cgroup = meta.get("target_backend", {}).get("cgroup")
    if cgroup:
        assert not Path(cgroup).exists(), f"cgroup {cgroup} left behind"


@needs_cgroup
def test_cgroup_run_leaves_a_complete_run_directory(tmp_path: Path) -> None:
    done = harness(tmp_path, "--backend", "cgroup", "--analyze")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    expected = {"NO LEAK": 0, "LEAK": 1, "INCONCLUSIVE": 4}[summary["verdict"]["verdict"]]
    assert done.returncode == expected, done.stderr  # --analyze: the verdict's exit code
    run_dir = run_dir_of(done)
    for report in ("verdict.json", "report.html", "summary.md", "junit.xml"):
        assert (run_dir / report).is_file(), report
    meta, samples, events = load(run_dir)
    assert meta["outcome"]["status"] == "completed"
    assert meta["target_backend"]["memory_limit_enforced"] is True
    assert meta["target_backend"]["memory_limit_bytes"] == 2 << 30
    phases = [e["phase"] for e in events if e["event"] == "phase"]
    assert phases == ["startup", "warm-up", "load-1", "cleanup", "shutdown"]
    assert {row["phase"] for row in samples} >= {"startup", "warm-up", "load-1", "cleanup"}
    load_rows = [row for row in samples if row["phase"] == "load-1"]
    assert int(load_rows[-1]["requests"]) > int(load_rows[0]["requests"]) > 0
    assert all(int(row["working_set"]) > 10 << 20 for row in samples)
    assert all(row["app_heap"] for row in load_rows)  # tracemalloc traced during load
    heaps = sorted(p.name for p in (run_dir / "heap").glob("*.tracemalloc"))
    assert heaps == [
        "01-warm-up-end.tracemalloc",
        "02-load-1-end.tracemalloc",
        "03-after-cleanup.tracemalloc",
    ]
    assert (run_dir / "locust_stats.csv").is_file() and (run_dir / "target.log").is_file()
    assert (tmp_path / "reports" / "latest").resolve() == run_dir.resolve()
    assert_nothing_left(meta, events)


def test_process_backend_says_no_limit_is_enforced(tmp_path: Path) -> None:
    done = harness(tmp_path, "--backend", "process")
    assert done.returncode == 0, done.stderr
    assert "NO memory or CPU limit" in done.stderr
    meta, samples, events = load(run_dir_of(done))
    assert meta["target_backend"]["memory_limit_enforced"] is False
    assert all(row["rss"] and not row["working_set"] for row in samples)
    assert_nothing_left(meta, events)


def test_remote_backend_reads_the_apps_own_memory(stub: StubProcess, tmp_path: Path) -> None:
    with ServiceProcess(stub.url, stub.api_key, tmp_path / "service.log") as service:
        done = harness(tmp_path, "--host", service.url)
        assert done.returncode == 0, done.stderr
        meta, samples, _ = load(run_dir_of(done))
        assert meta["target_backend"]["backend"] == "remote"
        assert all(row["rss"] for row in samples)  # from /api/v1/memory/stats
        assert service.process.poll() is None  # the harness does not stop what it did not start
    # a service without a storage account: the resume file users only wait, and say so once
    run_dir = run_dir_of(done)
    log = (run_dir / "locust.log").read_text()
    assert log.count("resume file users idle: the service has no storage account") == 1, log
    with (run_dir / "locust_stats.csv").open() as stats:
        names = {row["Name"] for row in csv.DictReader(stats)}
    assert not {name for name in names if name.startswith("resumes-")}, names


@needs_cgroup
def test_oom_kill_is_recorded_and_the_run_directory_kept(tmp_path: Path) -> None:
    done = harness(
        tmp_path, "--backend", "cgroup", "--memory-limit", "256m", "--leak", "native-malloc:2M"
    )
    assert done.returncode == 1, done.stderr
    meta, samples, events = load(run_dir_of(done))
    assert meta["outcome"]["status"] == "oom-killed"
    assert any(e["event"] == "oom-killed" for e in events)
    assert max(int(row["cgroup_peak"]) for row in samples) > 200 << 20
    assert_nothing_left(meta, events)


def _run_command(tmp_path: Path, duration_s: int) -> list[str]:
    scenario = tmp_path / "long.toml"
    tiny_scenario(scenario, duration_s)
    command = [sys.executable, "-m", "harness", "run", "--scenario", str(scenario), "--quiet"]
    return [*command, "--out", str(tmp_path / "reports")]


def _wait_for_load(tmp_path: Path, process: subprocess.Popen[Any]) -> Path:
    latest = tmp_path / "reports" / "latest"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        events = latest / "events.jsonl"
        if events.exists() and '"load-1"' in events.read_text():
            return latest.resolve()
        time.sleep(0.2)
    process.kill()
    pytest.fail("the run never reached its load phase")


@needs_cgroup
def test_a_harness_killed_with_sigkill_leaves_nothing_running(tmp_path: Path) -> None:
    """No cleanup code runs after SIGKILL: the kernel stops the target, Locust and the
    upstreams (parent death signal), Azurite's blobs stay inside the run directory, and the
    cgroup's janitor removes the cgroup (the next run's orphan sweep is the fallback). The
    SIGINT/SIGTERM rows are in test_faults.py."""
    stray_before = set(Path(tempfile.gettempdir()).glob("leak-harness-azurite-*"))
    process = subprocess.Popen(
        [*_run_command(tmp_path, duration_s=60), "--backend", "cgroup"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    latest = _wait_for_load(tmp_path, process)
    meta = json.loads((latest / "run.json").read_text())
    cgroup = Path(meta["target_backend"]["cgroup"])
    children = psutil.Process(process.pid).children(recursive=True)
    assert children and cgroup.exists()
    process.kill()
    process.wait()
    _gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"left running after SIGKILL: {[p.cmdline() for p in alive]}"
    stray = set(Path(tempfile.gettempdir()).glob("leak-harness-azurite-*")) - stray_before
    assert not stray and (latest / "azurite").is_dir(), stray
    deadline = time.monotonic() + 10
    while cgroup.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not cgroup.exists(), f"the janitor did not remove {cgroup}"


def test_target_that_dies_at_boot_shows_its_log(tmp_path: Path) -> None:
    (tmp_path / "leak-harness.toml").write_text(
        "[target]\n"
        'command = ["{python}", "-c", "import sys; print(\'boom: missing DATABASE_URL\'); '
        'sys.exit(3)"]\n'
        "upstreams = []\n"
    )
    done = harness(
        tmp_path, "--backend", "process", "--config", str(tmp_path / "leak-harness.toml")
    )
    assert done.returncode == 3
    assert "exited during boot" in done.stderr and "boom: missing DATABASE_URL" in done.stderr
    assert "Traceback" not in done.stderr
    meta, _, _ = load(run_dir_of(done))
    assert meta["outcome"]["status"] == "error"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "nope"], "unknown scenario"),
        (["--memory-limit", "lots"], "not a size"),
        (["--backend", "kubernetes"], "invalid choice"),
        (["--locustfile", "/no/such/file.py"], "does not exist"),
        (["--leak", "bogus:1K"], "unknown leak switch 'bogus'"),
        (["--leak", "native-malloc:lots"], "is not a size"),
    ],
)
def test_bad_input_is_a_usage_error(tmp_path: Path, args: list[str], message: str) -> None:
    command = [sys.executable, "-m", "harness", "run", "--out", str(tmp_path), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
