"""Users asking for charts, as a dashboard's page loads do."""

from __future__ import annotations

from locust import FastHttpUser, between, task


class ChartUser(FastHttpUser):
    wait_time = between(0.05, 0.25)

    @task
    def chart(self) -> None:
        with self.client.get("/chart?points=200", name="/chart", catch_response=True) as got:
            if got.status_code != 200:
                got.failure(f"HTTP {got.status_code}")
