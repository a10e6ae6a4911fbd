"""The allocator diagnosis' command and reruns, without load: which settings can be tried
where, which runs cannot be rerun (a usage error), and a run whose resident memory does not
grow is diagnosed without rerunning it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_allocator_diagnosis import make_run

from harness.analyze.allocator import NOT_APPLICABLE
from harness.workflows import allocator_check as allocator_rerun
from harness.workflows.allocator_check import (
    GLIBC_TUNED,
    JEMALLOC,
    TUNED,
    AllocatorCheckError,
    AllocatorSetting,
    check,
    resolve,
)

ROOT = Path(__file__).resolve().parents[2]


def test_glibc_tuned_fixes_the_thresholds_and_the_arenas() -> None:
    assert resolve(GLIBC_TUNED, "docker", {}) is TUNED
    assert TUNED.env == {
        "MALLOC_ARENA_MAX": "2",
        "MALLOC_MMAP_THRESHOLD_": "131072",
        "MALLOC_TRIM_THRESHOLD_": "131072",
    }


def test_jemalloc_is_skipped_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator_rerun, "find_jemalloc", lambda: None)
    reason = resolve(JEMALLOC, "cgroup", {})
    assert isinstance(reason, str) and "apt-get install libjemalloc2" in reason
    docker = resolve(JEMALLOC, "docker", {})
    assert isinstance(docker, str) and "inside the docker target" in docker


def test_jemalloc_is_preloaded_where_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    library = tmp_path / "libjemalloc.so.2"
    monkeypatch.setattr(allocator_rerun, "find_jemalloc", lambda: library)
    setting = resolve(JEMALLOC, "process", {"LD_PRELOAD": "/opt/other.so"})
    assert isinstance(setting, AllocatorSetting)
    assert setting.env == {"LD_PRELOAD": f"{library} /opt/other.so"}


def test_an_unknown_setting_is_refused() -> None:
    with pytest.raises(AllocatorCheckError, match="unknown allocator setting 'tcmalloc'"):
        resolve("tcmalloc", "cgroup", {})


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"target_backend": {"backend": "remote"}}, "remote service cannot be restarted"),
        (
            {"target_backend": {"backend": "cgroup"}, "profile": {"tool": "memray"}},
            "profiled with memray",
        ),
    ],
)
def test_runs_that_cannot_be_rerun(meta: dict[str, object], message: str) -> None:
    with pytest.raises(AllocatorCheckError, match=message):
        check(meta)
    assert check({"settings": {"backend": "auto"}, "target_backend": {"backend": "cgroup"}}) == (
        "cgroup"
    )


def diagnose_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "diagnose-allocator", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = diagnose_command(str(tmp_path))
    assert done.returncode == 2
    assert "is not a run directory" in done.stderr and "Traceback" not in done.stderr
    run_dir = make_run(tmp_path, per_request=0, released=0)
    meta = json.loads((run_dir / "run.json").read_text())
    meta["target_backend"] = {"backend": "remote"}
    (run_dir / "run.json").write_text(json.dumps(meta))
    done = diagnose_command(str(run_dir))
    assert done.returncode == 2 and "remote service" in done.stderr, done.stderr
    meta["target_backend"] = {"backend": "process"}
    meta["target"] = {"name": "other_api", "command": ["node", "server.js"]}
    (run_dir / "run.json").write_text(json.dumps(meta))
    done = diagnose_command(str(run_dir))
    assert done.returncode == 2 and "pass the --config the run used" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_flat_resident_memory_is_diagnosed_without_a_rerun(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, per_request=0, released=0)
    meta = json.loads((run_dir / "run.json").read_text())
    meta.update(target_backend={"backend": "process"}, scenario={"name": "synthetic"})
    (run_dir / "run.json").write_text(json.dumps(meta))
    done = diagnose_command(str(run_dir), "--json")
    assert done.returncode == 0, done.stderr
    diagnosis = json.loads(done.stdout)
    assert diagnosis["decision"] == NOT_APPLICABLE and not diagnosis["tried"]
    assert "nothing to diagnose" in diagnosis["reason"]
    assert not (run_dir / "allocator").exists()  # no rerun
    assert json.loads((run_dir / "allocator.json").read_text()) == diagnosis
