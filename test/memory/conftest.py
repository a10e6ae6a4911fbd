from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.target.cgroup_fs import Cgroup, CgroupError

GIB = 1 << 30


@pytest.fixture
def cgroup() -> Iterator[Cgroup | None]:
    """A 2 GiB memory cgroup for the service when this machine allows one, else None (the
    container-only assertions then skip, saying why)."""
    try:
        group = Cgroup.create(f"leak-test-{uuid.uuid4().hex[:8]}", 2 * GIB)
    except CgroupError as exc:
        print(f"no cgroup sandbox: {exc}")
        yield None
        return
    try:
        yield group
    finally:
        group.remove()


@pytest.fixture(scope="session")
def clean_short_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], Path]:
    """One clean run of the short scenario, judged: the verdict tests and the comparison
    tests both need one, and each costs a minute."""
    from test_verdicts import run_and_judge

    base = tmp_path_factory.mktemp("clean-short")
    verdict = run_and_judge(base)
    return verdict, (base / "reports" / "latest").resolve()
