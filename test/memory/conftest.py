from __future__ import annotations

import uuid
from collections.abc import Iterator

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
