"""Users submitting small conversion jobs."""

from __future__ import annotations

from locust import FastHttpUser, between, task

JOB = {"task": "convert", "input": "resume.docx", "steps": ["parse", "render", "upload"]}


class JobUser(FastHttpUser):
    wait_time = between(0.05, 0.25)

    @task
    def submit(self) -> None:
        with self.client.post("/jobs", json=JOB, catch_response=True) as got:
            if got.status_code != 200:
                got.failure(f"HTTP {got.status_code}")
