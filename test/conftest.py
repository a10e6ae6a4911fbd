from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness.upstream.process import StubProcess


@pytest.fixture(scope="session")
def stub() -> Iterator[StubProcess]:
    """One fake Azure OpenAI for the whole session (it keeps no per-test state)."""
    with StubProcess() as process:
        yield process
