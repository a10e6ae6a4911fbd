"""A fake Azure OpenAI upstream: chat completions and embeddings answered like Azure does,
with deterministic task-aware content, configurable latency and injected errors."""

from __future__ import annotations

from harness.upstream.app import create_app
from harness.upstream.config import StubConfig, StubConfigError

__all__ = ["StubConfig", "StubConfigError", "create_app"]
