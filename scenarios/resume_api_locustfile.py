"""Locust users of the AI Resume Advisor API: a weighted route mix like real traffic, with
seeded payloads of realistic size (job descriptions 1.5-6 KB, HTML resumes 2.5-8 KB).

Many users send the same job description (a shared pool of cases), as on the real service.
Run by the harness, or on its own: `locust -f scenarios/resume_api_locustfile.py --host URL`."""

from __future__ import annotations

import os
import random
from typing import Any

from locust import FastHttpUser, between, task

from harness.load.payloads import PayloadFactory, ResumeCase

_SEED = int(os.environ.get("LEAK_HARNESS_SEED", "42"))
_CASES: list[ResumeCase] = [PayloadFactory(_SEED).case() for _ in range(24)]
_API_KEY = os.environ.get("CONTAINER_APP_API_KEY", "")


class ResumeApiUser(FastHttpUser):
    wait_time = between(0.05, 0.25)

    def on_start(self) -> None:
        self.rng = random.Random(_SEED + id(self))
        self.headers = {"X-API-Key": _API_KEY} if _API_KEY else {}

    def _post(self, path: str, body: dict[str, Any], name: str) -> None:
        with self.client.post(
            path, json=body, headers=self.headers, name=name, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
            elif not (response.json() or {}).get("success"):
                response.failure("envelope success is false")

    def _case(self) -> ResumeCase:
        return self.rng.choice(_CASES)

    @task(4)
    def extract_keywords(self) -> None:
        case = self._case()
        self._post(
            "/api/v1/extract-jd-keywords",
            {"job_description": case.job_description},
            "extract-jd-keywords",
        )

    @task(3)
    def index_calculation(self) -> None:
        case = self._case()
        body = {
            "resume": case.resume_html,
            "job_description": case.job_description,
            "keywords": case.keywords,
        }
        self._post("/api/v1/index-calculation", body, "index-calculation")

    @task(2)
    def gap_analysis(self) -> None:
        case = self._case()
        body = {
            "resume": case.resume_html,
            "job_description": case.job_description,
            "keywords": case.keywords,
        }
        self._post("/api/v1/index-cal-and-gap-analysis", body, "index-cal-and-gap-analysis")

    @task(1)
    def format_resume(self) -> None:
        self._post("/api/v1/format-resume", {"ocr_text": self._case().ocr_text}, "format-resume")

    @task(1)
    def tailor_resume(self) -> None:
        case = self._case()
        body = {
            "job_description": case.job_description,
            "original_resume": case.resume_html,
            "original_index": {"missing_keywords": case.keywords[:3]},
        }
        self._post("/api/v1/tailor-resume", body, "tailor-resume")
