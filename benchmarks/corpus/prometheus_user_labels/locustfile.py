"""Users opening their profile: each simulated visit is a different user, as on a real site."""

from __future__ import annotations

import uuid

from locust import FastHttpUser, between, task


class ProfileUser(FastHttpUser):
    wait_time = between(0.05, 0.25)

    @task
    def profile(self) -> None:
        path = f"/users/{uuid.uuid4()}/profile"
        with self.client.get(path, name="/users/[id]/profile", catch_response=True) as got:
            if got.status_code != 200:
                got.failure(f"HTTP {got.status_code}")
