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


@pytest.fixture(scope="session")
def service_image() -> Iterator[str]:
    """The bundled service's image, built from resume_api/Dockerfile once per session (or found
    by its content hash), so each docker test's time is its run's, not the build's."""
    import docker

    from harness.target.base import TargetError
    from harness.target.docker_image import ensure_image
    from harness.target.spec import TargetSpec

    client = docker.from_env(timeout=900)
    try:
        yield ensure_image(client, TargetSpec(), lambda _line: None)
    except TargetError as exc:
        pytest.fail(f"the service image cannot be built: {exc}")
    finally:
        client.close()
