"""The fake Azure OpenAI as a child process, for tests and for the harness's run."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from harness.upstream.child import ListeningChild, StubStartError
from harness.upstream.cli import LISTENING
from harness.upstream.config import DEFAULT_API_KEY

__all__ = ["StubProcess", "StubStartError"]


class StubProcess(ListeningChild):
    what = "fake Azure OpenAI"

    def __init__(
        self,
        extra_args: Sequence[str] = (),
        api_key: str = DEFAULT_API_KEY,
        timeout_s: float = 20.0,
    ) -> None:
        self.api_key = api_key
        command = [sys.executable, "-m", "harness", "stub", "azure-openai", "--port", "0"]
        command += ["--api-key", api_key, *extra_args]
        super().__init__(command, timeout_s, env={"PYTHONUNBUFFERED": "1"})

    def url_in(self, line: str) -> str | None:
        return line.split()[-1] if line.startswith(LISTENING) else None
