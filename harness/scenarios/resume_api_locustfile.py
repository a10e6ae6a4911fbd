"""Locust users of the AI Resume Advisor API: a weighted route mix like real traffic, with
seeded payloads of realistic size (job descriptions 1.5-6 KB, HTML resumes 2.5-8 KB), and a
smaller share of users uploading, downloading, linking and deleting resume files (20 KB-3 MB;
RESUME_API_FILE_USERS=0 leaves them out).

Many users send the same job description (a shared pool of cases), as on the real service.
Run by the harness, or on its own:
`locust -f harness/scenarios/resume_api_locustfile.py --host URL`."""

from __future__ import annotations

import os
import random
import time
from typing import Any

import httpx
from locust import FastHttpUser, between, task

from harness.load.payloads import PayloadFactory, ResumeCase, ResumeFile, resume_files

_SEED = int(os.environ.get("LEAK_HARNESS_SEED", "42"))
_CASES: list[ResumeCase] = [PayloadFactory(_SEED).case() for _ in range(24)]
_API_KEY = os.environ.get("CONTAINER_APP_API_KEY", "")
_FILES: list[ResumeFile] = resume_files(_SEED)
FILE_USERS_ENV = "RESUME_API_FILE_USERS"
_SAID_NO_STORAGE = False


def _idle(user: object) -> None:
    """The only task of a resume file user whose service has no storage account."""


class ResumeApiUser(FastHttpUser):
    weight = 4  # the analysis routes stay most of the traffic
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


class ResumeFilesUser(FastHttpUser):
    """Resume files: upload, download (a third abandoned after the first chunk, as a browser
    tab closed mid-download), SAS URL, delete. Each user keeps at most 4 files of its own."""

    weight = 1
    abstract = os.environ.get(FILE_USERS_ENV, "1") == "0"
    wait_time = between(0.05, 0.25)
    keep = 4

    def on_start(self) -> None:
        self.rng = random.Random(_SEED + 1 + id(self))
        self.headers = {"X-API-Key": _API_KEY} if _API_KEY else {}
        self.ids: list[str] = []
        # abandoned downloads need a client that can hang up mid-body
        self.raw = httpx.Client(base_url=self.host or "", headers=self.headers, timeout=60)
        if not self._storage_configured():
            self.tasks = [_idle]

    def _storage_configured(self) -> bool:
        """A service started without a storage account answers the file routes with 503
        STORAGE_NOT_CONFIGURED: this user then only waits (said once), rather than filling
        Locust's failures with what the service was never set up to do."""
        global _SAID_NO_STORAGE
        try:
            probe = self.raw.get(f"/api/v1/resumes/{'0' * 32}")
        except httpx.HTTPError:
            return True  # the tasks will report it as failures
        if "STORAGE_NOT_CONFIGURED" not in probe.text:
            return True
        if not _SAID_NO_STORAGE:
            _SAID_NO_STORAGE = True
            print(
                "resume file users idle: the service has no storage account "
                f"(set {FILE_USERS_ENV}=0 to leave them out)",
                flush=True,
            )
        return False

    def on_stop(self) -> None:
        self.raw.close()

    def _ok(self, response: Any, expected: int = 200) -> dict[str, Any] | None:
        if response.status_code != expected:
            response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
            return None
        body = response.json() or {}
        if not body.get("success"):
            response.failure("envelope success is false")
            return None
        data: dict[str, Any] = body.get("data") or {}
        return data

    @task(3)
    def upload(self) -> None:
        file = self.rng.choice(_FILES)
        headers = {**self.headers, "Content-Type": file.content_type}
        with self.client.post(
            "/api/v1/resumes?filename=resume",
            data=file.content,  # type: ignore[arg-type]  # bytes go as they are; the hint is narrow
            headers=headers,
            name="resumes-upload",
            catch_response=True,
        ) as response:
            data = self._ok(response, 201)
        if data and data.get("resume_id"):
            self.ids.append(str(data["resume_id"]))
        while len(self.ids) > self.keep:
            self._delete(self.ids.pop(0))

    @task(4)
    def download(self) -> None:
        if not self.ids:
            return self.upload()
        resume_id = self.rng.choice(self.ids)
        if self.rng.random() < 1 / 3:
            return self._abandon_download(resume_id)
        with self.client.get(
            f"/api/v1/resumes/{resume_id}",
            headers=self.headers,
            name="resumes-download",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
        return None

    def _abandon_download(self, resume_id: str) -> None:
        started = time.perf_counter()
        error: Exception | None = None
        length = 0
        try:
            with self.raw.stream("GET", f"/api/v1/resumes/{resume_id}") as response:
                if response.status_code != 200:
                    error = RuntimeError(f"HTTP {response.status_code}")
                else:
                    length = len(next(response.iter_raw(16 << 10), b""))
        except httpx.HTTPError as exc:
            error = exc
        self.environment.events.request.fire(
            request_type="GET",
            name="resumes-download-abandoned",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            response=None,
            context={},
            exception=error,
        )

    @task(2)
    def url(self) -> None:
        if not self.ids:
            return self.upload()
        with self.client.get(
            f"/api/v1/resumes/{self.rng.choice(self.ids)}/url",
            headers=self.headers,
            name="resumes-url",
            catch_response=True,
        ) as response:
            self._ok(response)
        return None

    @task(1)
    def delete(self) -> None:
        if self.ids:
            self._delete(self.ids.pop(self.rng.randrange(len(self.ids))))

    def _delete(self, resume_id: str) -> None:
        with self.client.delete(
            f"/api/v1/resumes/{resume_id}",
            headers=self.headers,
            name="resumes-delete",
            catch_response=True,
        ) as response:
            self._ok(response)
