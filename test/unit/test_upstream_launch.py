"""Which upstream a target's spec starts, and what the target is told about Azurite."""

from __future__ import annotations

import pytest

from harness.target.spec import TargetSpec, expand
from harness.upstream.azurite import ACCOUNT, connection_string
from harness.upstream.launch import start_upstream
from harness.upstream.process import StubStartError


def test_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(StubStartError, match="unknown upstream kind 'redis'"):
        start_upstream("redis", [])


def test_azurite_takes_no_stub_arguments() -> None:
    with pytest.raises(StubStartError, match="takes no args"):
        start_upstream("azurite", ["--latency", "1"])


def test_bundled_target_gets_a_connection_string_for_its_blob_endpoint() -> None:
    spec = TargetSpec()
    assert [u.kind for u in spec.upstreams] == ["azure-openai", "azurite"]
    url = "http://127.0.0.1:40123"
    values = {
        "upstream.azurite": url,
        "upstream.azurite.key": connection_string(url),
        "upstream.azure-openai": "http://127.0.0.1:1",
        "upstream.azure-openai.key": "k",
    }
    env = {name: expand(value, values) for name, value in spec.env.items()}
    parts = dict(
        part.split("=", 1) for part in env["AZURE_STORAGE_CONNECTION_STRING"].split(";") if part
    )
    assert parts["BlobEndpoint"] == f"{url}/{ACCOUNT}"
    assert parts["AccountName"] == ACCOUNT
    assert env["AZURE_OPENAI_ENDPOINT"] == "http://127.0.0.1:1"
