"""Locust users of the pydantic_iterable_validator_leak case: the request of case.toml's
[[driver.requests]], so the plain driver and the harness send the same bytes."""

from __future__ import annotations

import tomllib
from pathlib import Path

from locust import FastHttpUser, between, task

REQUEST = tomllib.loads(Path(__file__).with_name("case.toml").read_text())["driver"]["requests"][0]


class IngestUser(FastHttpUser):
    wait_time = between(0.05, 0.25)

    @task
    def send(self) -> None:
        with self.client.request(
            REQUEST["method"],
            REQUEST["path"],
            data=REQUEST["body"].encode("utf-8"),
            headers=REQUEST.get("headers", {}),
            catch_response=True,
        ) as got:
            if got.status_code != 200:
                got.failure(f"HTTP {got.status_code}")
