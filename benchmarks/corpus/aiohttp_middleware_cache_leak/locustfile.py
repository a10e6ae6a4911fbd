"""Locust load for aiohttp_middleware_cache_leak: the same requests as case.toml's driver
(GET of a client-side route /app/... that the SPA-fallback middleware answers with index.html)."""

import itertools
import pathlib
import tomllib

from locust import FastHttpUser, between, task

_CASE = tomllib.loads(pathlib.Path(__file__).with_name("case.toml").read_text(encoding="utf-8"))
_REQS = _CASE["driver"]["requests"]


class SpaUser(FastHttpUser):
    wait_time = between(0.05, 0.25)

    def on_start(self):
        self._cycle = itertools.cycle(_REQS)

    @task
    def send(self):
        req = next(self._cycle)
        body = req.get("body")
        with self.client.request(
            req.get("method", "GET"),
            req["path"],
            data=body.encode("utf-8") if body is not None else None,
            headers=req.get("headers", {}),
            catch_response=True,
        ) as resp:
            if resp.status_code == 200:
                resp.success()
            else:
                resp.failure(f"status {resp.status_code}")
