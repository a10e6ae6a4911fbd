"""Tests of the docker backend need a real Docker engine: skip, saying why, when none answers
(scripts/docker_setup.sh starts one). The service image is the `service_image` fixture of
test/conftest.py."""

from __future__ import annotations

import pytest

from harness.target.docker_engine import docker_answers

WHY_NO_ENGINE = docker_answers()
needs_engine = pytest.mark.skipif(WHY_NO_ENGINE is not None, reason=str(WHY_NO_ENGINE))
