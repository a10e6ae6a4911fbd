"""Response overrides from a file, checked before the built-in tasks, so the stub can serve
other LLM-backed services: a list of rules, the first that matches answers.

    [{"deployment": "gpt-4*", "kind": "chat", "pattern": "summari[sz]e",
      "response": "A summary." | {"json": {...}}, "status": 200, "latency_ms": 30}]
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.upstream.config import StubConfigError

_KEYS = {"deployment", "kind", "pattern", "response", "status", "latency_ms"}


@dataclass(frozen=True)
class Rule:
    deployment: str
    kind: str
    pattern: re.Pattern[str]
    content: str
    status: int
    latency_ms: float | None

    def matches(self, deployment: str, kind: str, text: str) -> bool:
        return (
            self.kind == kind
            and fnmatch.fnmatchcase(deployment, self.deployment)
            and self.pattern.search(text) is not None
        )


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise StubConfigError(f"{where}: a rule must be a table/object")
    unknown = set(raw) - _KEYS
    if unknown:
        raise StubConfigError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}"
        )
    kind = raw.get("kind", "chat")
    if kind not in ("chat", "embeddings"):
        raise StubConfigError(f"{where}: kind must be 'chat' or 'embeddings' (got {kind!r})")
    try:
        pattern = re.compile(str(raw.get("pattern", "")), re.DOTALL)
    except re.error as exc:
        raise StubConfigError(f"{where}: pattern is not a valid regex ({exc})") from None
    response = raw.get("response", "")
    if isinstance(response, dict) and set(response) == {"json"}:
        content = json.dumps(response["json"])
    elif isinstance(response, str):
        content = response
    else:
        raise StubConfigError(f'{where}: response must be a string or {{"json": ...}}')
    status = raw.get("status", 200)
    if not isinstance(status, int) or not 200 <= status <= 599:
        raise StubConfigError(f"{where}: status must be an HTTP status 200..599 (got {status!r})")
    latency = raw.get("latency_ms")
    if latency is not None and (not isinstance(latency, int | float) or latency < 0):
        raise StubConfigError(f"{where}: latency_ms must be a non-negative number")
    return Rule(str(raw.get("deployment", "*")), kind, pattern, content, status, latency)


def load_rules(path: Path) -> list[Rule]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StubConfigError(f"fixtures file {path}: {exc.strerror}") from None
    try:
        data: Any = (
            tomllib.loads(text).get("rule", []) if path.suffix == ".toml" else json.loads(text)
        )
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise StubConfigError(f"fixtures file {path} is not valid: {exc}") from None
    if not isinstance(data, list):
        raise StubConfigError(f"fixtures file {path}: expected a list of rules ([[rule]] in TOML)")
    return [_rule(raw, f"{path} rule {i}") for i, raw in enumerate(data)]


def find(rules: list[Rule], deployment: str, kind: str, text: str) -> Rule | None:
    return next((rule for rule in rules if rule.matches(deployment, kind, text)), None)
