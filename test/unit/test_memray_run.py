"""`run --profile memray`: how the target's command is wrapped, and which targets and
backends are refused (one line, exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.run.memray import (
    ProfileError,
    check,
    profiled_spec,
    wrap_command,
)
from harness.rundir import CAPTURE, MEMRAY_DIR
from harness.target.spec import TargetSpec

CAP = Path("/runs/r1/memray/capture.bin")
MEMRAY = ["-m", "memray", "run", "--native", "--follow-fork", "--aggregate", "-q", "-f"]


def test_module_command_runs_under_memray_with_native_stacks_and_aggregation() -> None:
    command = ["{python}", "-m", "resume_api", "--port", "{port}"]
    assert wrap_command(command, CAP) == [
        "{python}",
        *MEMRAY,
        "-o",
        str(CAP),
        "-m",
        "resume_api",
        "--port",
        "{port}",
    ]
    assert "--trace-python-allocators" not in wrap_command(command, CAP)


def test_interpreter_options_stay_before_memray_and_scripts_are_wrapped_too() -> None:
    wrapped = wrap_command(["/usr/bin/python3.11", "-X", "dev", "-u", "app.py", "-v"], CAP)
    assert wrapped[:4] == ["/usr/bin/python3.11", "-X", "dev", "-u"]
    assert wrapped[4:6] == ["-m", "memray"]
    assert wrapped[-2:] == ["app.py", "-v"]
    code = wrap_command(["python3", "-c", "print(1)"], CAP)
    assert code[-2:] == ["-c", "print(1)"]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["uvicorn", "app:app"], "starts the Python interpreter"),
        ([], "starts the Python interpreter"),
        (["{python}", "-u"], "runs no module"),
    ],
)
def test_commands_that_cannot_be_wrapped_are_refused(command: list[str], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        wrap_command(command, CAP)


@pytest.mark.parametrize(
    ("backend", "spec", "message"),
    [
        ("remote", TargetSpec(), "cannot be restarted"),
        ("cgroup", TargetSpec(python=False), "needs a Python target"),
        ("process", TargetSpec(command=["node", "server.js"]), "starts the Python interpreter"),
    ],
)
def test_targets_memray_cannot_profile_are_refused(
    backend: str, spec: TargetSpec, message: str
) -> None:
    with pytest.raises(ProfileError, match=message):
        check(spec, backend)


def test_the_bundled_service_can_be_profiled_locally_and_in_docker() -> None:
    for backend in ("auto", "cgroup", "process", "docker"):
        check(TargetSpec(), backend)


def test_an_interpreter_without_memray_is_refused(tmp_path: Path) -> None:
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    spec = TargetSpec(command=[str(venv / "bin" / "python"), "-m", "app"])
    with pytest.raises(ProfileError, match="memray is not installed"):
        check(spec, "process")


def test_profiled_spec_sets_pythonmalloc_and_a_stop_signal_memray_survives(
    tmp_path: Path,
) -> None:
    spec = profiled_spec(TargetSpec(), tmp_path)
    assert spec.env["PYTHONMALLOC"] == "malloc"
    assert spec.env["PYTHONUNBUFFERED"] == "1"  # the target's own env is kept
    assert spec.stop_signal == "SIGINT" and spec.startup_timeout_s >= 180
    assert str(tmp_path / MEMRAY_DIR / CAPTURE) in spec.command
    assert (tmp_path / MEMRAY_DIR).is_dir()
    assert TargetSpec().stop_signal == "SIGTERM"  # unprofiled targets are stopped as before
    # in a container: an image with memray, and the capture's directory bound in
    assert spec.build_args == {"PROFILER": "memray"} and TargetSpec().build_args == {}
    assert spec.writable_dirs == [tmp_path / MEMRAY_DIR]


def test_the_capture_path_is_absolute_for_a_relative_run_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The target runs in its own workdir (or a container): `--out reports` must not put the
    capture under the target's cwd."""
    monkeypatch.chdir(tmp_path)
    spec = profiled_spec(TargetSpec(), Path("reports/runs/r1"))
    capture = spec.command[spec.command.index("-o") + 1]
    assert capture == str(tmp_path / "reports/runs/r1" / MEMRAY_DIR / CAPTURE)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "remote", "--host", "http://127.0.0.1:9"], "cannot be restarted"),
    ],
)
def test_cli_refuses_with_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = main(["run", "--profile", "memray", "--out", str(tmp_path), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()  # refused before any run directory


def test_scenario_option_is_refused_for_a_non_python_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "profiled.toml"
    scenario.write_text('profile = "memray"\nduration_s = 5\n')
    config = tmp_path / "leak-harness.toml"
    config.write_text('[target]\ncommand = ["./server", "{port}"]\npython = false\n')
    code = main(
        ["run", "--scenario", str(scenario), "--config", str(config), "--backend", "process"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "needs a Python target" in err and len(err.splitlines()) == 1
