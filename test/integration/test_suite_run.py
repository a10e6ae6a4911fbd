"""`leak-harness suite` for real on the bundled service: two tiny scenarios run one after
another, each judged, and indexed with working links; SIGINT stops the run in progress and
the suite, and what was done stays indexed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import psutil
import pytest
from support.scenarios import tiny_scenario

from harness.target.cgroup_fs import Cgroup, CgroupError

ROOT = Path(__file__).resolve().parents[2]


def backend() -> str:
    """The sandbox where this machine has one, else a plain process."""
    try:
        Cgroup.create(f"probe-{os.getpid()}", 64 << 20).remove()
    except CgroupError:
        return "process"
    return "cgroup"


def scenarios(tmp_path: Path, *durations: int) -> str:
    paths = []
    for number, duration in enumerate(durations, 1):
        path = tmp_path / f"tiny-{number}.toml"
        tiny_scenario(path, duration)
        paths.append(str(path))
    return ",".join(paths)


def suite_command(tmp_path: Path, names: str, *extra: str) -> list[str]:
    command = [sys.executable, "-m", "harness", "suite", "--scenarios", names]
    return [*command, "--out", str(tmp_path / "reports"), "--backend", backend(), *extra]


def test_a_two_scenario_suite_indexes_both_reports(tmp_path: Path) -> None:
    names = scenarios(tmp_path, 8, 8)
    done = subprocess.run(
        suite_command(tmp_path, names, "--json"),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    suite = json.loads(done.stdout)
    runs = suite["runs"]
    assert [r["scenario"] for r in runs] == names.split(","), done.stderr
    assert all(r["status"] == "completed" and r["verdict"] for r in runs), runs
    assert done.returncode == suite["exit_code"] in (0, 1, 4)  # the verdicts of tiny runs
    index = Path(suite["index"])
    linked = [index.parent / unquote(h) for h in re.findall(r"href='([^']+)'", index.read_text())]
    for run in runs:
        report = (Path(run["run_dir"]) / "report.html").resolve()
        assert report in [p.resolve() for p in linked]
        assert report.is_file() and (index.parent / run["path"]).resolve() == report.parent
    assert all(p.exists() for p in linked)


def test_sigint_stops_the_current_run_and_the_suite(tmp_path: Path) -> None:
    names = scenarios(tmp_path, 60, 8)
    process = subprocess.Popen(
        suite_command(tmp_path, names, "-q"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    events = tmp_path / "reports" / "latest" / "events.jsonl"
    deadline = time.monotonic() + 90
    while not (events.exists() and '"load-1"' in events.read_text()):
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the first run never reached its load phase")
        time.sleep(0.2)
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    index = Path(out.strip().removeprefix("index: "))
    suite = json.loads((index.parent / "suite.json").read_text())
    assert suite["interrupted"] is True
    assert [r["status"] for r in suite["runs"]] == ["interrupted"]
    assert suite["missing"] == [names.split(",")[1]]
    assert "INTERRUPTED" in index.read_text()
    time.sleep(1)
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert not alive, alive
