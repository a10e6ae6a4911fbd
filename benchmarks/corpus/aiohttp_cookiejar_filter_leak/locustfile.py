"""Locust load for aiohttp_cookiejar_filter_leak: the same request as case.toml's driver,
GET /api/users/<fresh user id>/overview ({uuid} in the path is a new uuid4 hex each time)."""

import pathlib
import tomllib
import uuid

from locust import FastHttpUser, between, task

_CASE = tomllib.loads(pathlib.Path(__file__).with_name("case.toml").read_text(encoding="utf-8"))
_REQ = _CASE["driver"]["requests"][0]


class GatewayUser(FastHttpUser):
    wait_time = between(0.05, 0.25)

    @task
    def overview(self):
        path = _REQ["path"].replace("{uuid}", uuid.uuid4().hex)
        with self.client.request(
            _REQ.get("method", "GET"),
            path,
            headers=_REQ.get("headers", {}),
            name=_REQ["path"],
            catch_response=True,
        ) as resp:
            if resp.status_code == 200:
                resp.success()
            else:
                resp.failure(f"status {resp.status_code}")
