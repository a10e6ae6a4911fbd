"""Prompt templates, shipped as package data (`prompts/<task>.system.txt`, `<task>.user.txt`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template


@dataclass(frozen=True)
class Prompt:
    task: str
    version: str
    system: str
    user: Template

    def messages(self, **values: object) -> list[dict[str, str]]:
        text = self.user.substitute({key: str(value) for key, value in values.items()})
        return [{"role": "system", "content": self.system}, {"role": "user", "content": text}]


@cache
def load_prompt(task: str) -> Prompt:
    folder = resources.files("resume_api") / "prompts"
    system = (folder / f"{task}.system.txt").read_text(encoding="utf-8")
    user = (folder / f"{task}.user.txt").read_text(encoding="utf-8")
    first_line = system.split("\n", 1)[0]
    version = first_line.rsplit(" v", 1)[-1].rstrip(")") if " v" in first_line else "unknown"
    return Prompt(task, version, Template(system).substitute(), Template(user))
