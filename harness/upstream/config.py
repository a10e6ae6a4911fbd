"""Settings of the fake Azure OpenAI upstream."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_API_KEY = "fake-azure-openai-key"


class StubConfigError(ValueError):
    """A stub setting or fixtures file is wrong; the message says which and how."""


@dataclass(frozen=True)
class StubConfig:
    host: str = "127.0.0.1"
    port: int = 0
    api_key: str = os.environ.get("FAKE_AZURE_OPENAI_API_KEY", DEFAULT_API_KEY)
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    embedding_latency_ms: float | None = None
    error_429_rate: float = 0.0
    error_500_rate: float = 0.0
    retry_after_s: float = 1.0
    seed: int = 0
    fixtures: Path | None = None

    def validate(self) -> None:
        for name in ("error_429_rate", "error_500_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise StubConfigError(f"--{name.replace('_', '-')} must be in [0, 1] (got {value})")
        if self.error_429_rate + self.error_500_rate > 1.0:
            raise StubConfigError("--error-429-rate plus --error-500-rate must not exceed 1")
        for name in ("latency_ms", "jitter_ms", "retry_after_s"):
            if getattr(self, name) < 0:
                raise StubConfigError(f"--{name.replace('_', '-')} must not be negative")
        if self.embedding_latency_ms is not None and self.embedding_latency_ms < 0:
            raise StubConfigError("--embedding-latency-ms must not be negative")
        if not 0 <= self.port <= 65535:
            raise StubConfigError(f"--port must be 0..65535 (got {self.port})")
        if not self.api_key:
            raise StubConfigError("--api-key must not be empty")
