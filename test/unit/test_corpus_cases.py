"""The corpus of real leaks (benchmarks/corpus/): every case is complete (a public source, a
leaky and a fixed variant, a driver's requests), and its leak-harness.toml loads as a user's
service would, without any of the bundled service's parts."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.run.config import load_settings

CORPUS = Path(__file__).resolve().parents[2] / "benchmarks" / "corpus"
CASES = sorted(path.parent for path in CORPUS.glob("*/case.toml"))


def test_the_corpus_has_the_cases_the_issue_asks_for() -> None:
    expects = [tomllib.loads((case / "case.toml").read_text())["expect"] for case in CASES]
    assert len(CASES) >= 8 and "fds" in expects and "oom" in expects


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_case_is_complete(case: Path) -> None:
    spec = tomllib.loads((case / "case.toml").read_text())
    assert spec["source"].startswith("https://") and spec["kind"] in ("library", "misuse")
    assert spec["expect"] in ("memory", "fds", "oom")
    leaky, fixed = spec["variants"]["leaky"], spec["variants"]["fixed"]
    if spec["kind"] == "library":  # the twins differ in a pinned version
        assert leaky["requirements"] != fixed["requirements"]
    assert all("==" in requirement for requirement in leaky["requirements"])
    driver = spec["driver"]
    assert driver["measured_requests"] > 0 and driver["requests"][0]["path"].startswith("/")
    for name in ("app.py", "locustfile.py"):
        assert (case / name).is_file()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_case_config_is_a_service_of_its_own(case: Path) -> None:
    target = load_settings({}, case / "leak-harness.toml", environ={})[0].target
    assert target.workdir == case and target.upstreams == [] and target.alert_rules is None
    assert target.memory_endpoints is None and target.leak_env is None
