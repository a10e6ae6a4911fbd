"""Users asking for a resume's score against a job."""

from __future__ import annotations

from locust import FastHttpUser, between, task

BODY = {
    "resume": "Senior Python developer, 8 years of FastAPI, Azure, Kubernetes",
    "job": "Backend engineer, Python, Azure",
}


class ScoreUser(FastHttpUser):
    wait_time = between(0.05, 0.25)

    @task
    def score(self) -> None:
        with self.client.post("/score", json=BODY, catch_response=True) as got:
            if got.status_code != 200:
                got.failure(f"HTTP {got.status_code}")
