"""What a run reads at run time is package data, found through the package: an installed wheel
has no source tree, so a path that climbs out of the package would find nothing there."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

import harness
import resume_api
from harness.load.locust_process import DEFAULT_LOCUSTFILE, HOOKS_FILE
from harness.load.scenario import SCENARIO_DIR, available, load_scenario
from harness.sample.heap import AGENT_DIR
from harness.target.spec import TargetSpec
from harness.upstream.azurite import INSTALL_SCRIPT

PACKAGE = Path(harness.__file__).resolve().parent
SERVICE = Path(resume_api.__file__).resolve().parent
PYPROJECT = PACKAGE.parent / "pyproject.toml"


def test_the_scenarios_are_the_packages_own() -> None:
    assert SCENARIO_DIR.resolve() == PACKAGE / "scenarios"
    assert {"quick", "steady", "stress", "spike", "soak", "cycles", "full"} <= set(available())


@pytest.mark.parametrize("name", available())
def test_every_scenario_name_resolves_inside_the_package(name: str) -> None:
    path = (SCENARIO_DIR / f"{name}.toml").resolve()
    assert path.is_file() and path.is_relative_to(PACKAGE / "scenarios")
    assert load_scenario(name).name == name


def test_a_scenario_path_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text((SCENARIO_DIR / "quick.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert load_scenario(str(path)).name == "mine"


def test_the_default_locustfile_and_run_time_files_are_inside_the_package() -> None:
    for path in (DEFAULT_LOCUSTFILE, HOOKS_FILE, AGENT_DIR / "sitecustomize.py", INSTALL_SCRIPT):
        assert path.resolve().is_file(), path
        assert path.resolve().is_relative_to(PACKAGE), path


def test_the_default_target_is_found_through_the_service_package() -> None:
    spec = TargetSpec()
    assert spec.alert_rules is not None and spec.alert_rules.is_file()
    assert spec.alert_rules.resolve() == SERVICE / "alert_rules.yml"
    assert spec.dockerfile.resolve() == SERVICE / "Dockerfile"
    assert spec.workdir.resolve() == spec.docker_context.resolve() == SERVICE.parent


@pytest.mark.skipif(not PYPROJECT.is_file(), reason="not a checkout: no pyproject.toml")
def test_pyproject_ships_every_run_time_file_in_the_wheel() -> None:
    """package-data globs cover the data files (directories without __init__.py are not
    packages, so nothing else puts them in the wheel)."""
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["harness"]
    data = [
        *SCENARIO_DIR.glob("*.toml"),
        DEFAULT_LOCUSTFILE,
        *AGENT_DIR.glob("*.py"),
        INSTALL_SCRIPT,
    ]
    for path in data:
        relative = path.resolve().relative_to(PACKAGE).as_posix()
        assert any(fnmatch(relative, glob) for glob in globs), relative
