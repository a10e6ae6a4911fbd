"""`python -m resume_api` against the fake Azure OpenAI, through the real openai SDK: every route
answers a schema-valid envelope; bad input and upstream failures get clear 4xx/5xx answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.service import ServiceProcess

from harness.load.payloads import PayloadFactory, ResumeCase
from harness.upstream.process import StubProcess


@pytest.fixture(scope="module")
def service(stub: StubProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("service") / "service.log"
    with ServiceProcess(stub.url, stub.api_key, log) as process:
        yield process.url


@pytest.fixture(scope="module")
def case() -> ResumeCase:
    return PayloadFactory(3).case()


def ok(response: httpx.Response) -> dict[str, Any]:
    """The unified envelope of a success; returns its data."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "data", "error", "warning", "timestamp"}
    assert body["success"] is True and body["error"]["has_error"] is False
    data: dict[str, Any] = body["data"]
    return data


def failed(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["has_error"] is True
    assert "Traceback" not in response.text
    error: dict[str, Any] = body["error"]
    return error


def test_extract_keywords_keeps_what_both_rounds_agree_on(service: str, case: ResumeCase) -> None:
    body = {"job_description": case.job_description, "max_keywords": 12}
    data = ok(httpx.post(f"{service}/api/v1/extract-jd-keywords", json=body, timeout=30))
    assert 0 < data["keyword_count"] == len(data["keywords"]) <= 12
    assert all(keyword.lower() in case.job_description.lower() for keyword in data["keywords"])
    assert data["extraction_method"] == "2_round_intersection" and data["tokens_used"] > 0


def test_index_calculation_scores_similarity_and_coverage(service: str, case: ResumeCase) -> None:
    body = {
        "resume": case.resume_html,
        "job_description": case.job_description,
        "keywords": ",".join(case.keywords),
    }
    data = ok(httpx.post(f"{service}/api/v1/index-calculation", json=body, timeout=30))
    assert 0 <= data["similarity_percentage"] <= 100
    coverage = data["keyword_coverage"]
    assert coverage["total_keywords"] == len(case.keywords)
    assert coverage["covered_count"] + len(coverage["missed_keywords"]) == len(case.keywords)


def test_gap_analysis_has_every_section(service: str, case: ResumeCase) -> None:
    body = {
        "resume": case.resume_html,
        "job_description": case.job_description,
        "keywords": case.keywords,
    }
    data = ok(httpx.post(f"{service}/api/v1/index-cal-and-gap-analysis", json=body, timeout=30))
    gap = data["gap_analysis"]
    for section in ("CoreStrengths", "KeyGaps", "QuickImprovements", "OverallAssessment"):
        assert gap[section], f"empty {section}: {gap}"
    assert gap["SkillSearchQueries"] and isinstance(data["resume_structure"], dict)


def test_format_resume_answers_html(service: str, case: ResumeCase) -> None:
    body = {"ocr_text": case.ocr_text, "supplement_info": {"email": "a@example.com"}}
    data = ok(httpx.post(f"{service}/api/v1/format-resume", json=body, timeout=30))
    assert data["formatted_resume"].lstrip().startswith("<")


def test_tailor_resume_reports_before_and_after(service: str, case: ResumeCase) -> None:
    body = {
        "job_description": case.job_description,
        "original_resume": case.resume_html,
        "original_index": {"missing_keywords": case.keywords[:3]},
    }
    data = ok(httpx.post(f"{service}/api/v1/tailor-resume", json=body, timeout=30))
    assert "<" in data["optimized_resume"]
    assert set(data["similarity"]) >= {"before", "after", "improvement"}


def test_memory_endpoints(service: str) -> None:
    health = ok(httpx.get(f"{service}/api/v1/memory/health"))
    assert health["status"] in {"healthy", "warning", "critical"}
    assert health["thresholds_mb"] == {"warning": 1500, "critical": 1800, "limit": 2048}
    stats = ok(httpx.get(f"{service}/api/v1/memory/stats"))
    assert stats["process"]["rss_mb"] > 10 and stats["active_tasks"] >= 1
    collected = ok(httpx.post(f"{service}/api/v1/memory/gc"))
    assert "objects_collected" in collected
    ok(httpx.post(f"{service}/api/v1/memory/clear-cache"))
    assert ok(httpx.post(f"{service}/api/v1/memory/heap/start?frames=5"))["tracing"] is True
    top = ok(httpx.get(f"{service}/api/v1/memory/heap?limit=5"))
    assert len(top["top"]) <= 5


def test_validation_error_names_the_field(service: str) -> None:
    response = httpx.post(f"{service}/api/v1/extract-jd-keywords", json={"job_description": "x"})
    assert "job_description" in failed(response, 422)["message"]


def test_malformed_json_is_400(service: str) -> None:
    response = httpx.post(
        f"{service}/api/v1/format-resume",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    failed(response, 400)


def test_api_key_and_production_guards(stub: StubProcess, tmp_path: Path) -> None:
    env = {
        "CONTAINER_APP_API_KEY": "sekret",
        "ENVIRONMENT": "production",
        "MEMORY_ENDPOINTS_ENABLED": "",  # unset: closed (test_service_memory_guard.py: all ways)
    }
    with ServiceProcess(stub.url, stub.api_key, tmp_path / "s.log", env) as process:
        assert httpx.get(f"{process.url}/health").status_code == 200
        failed(httpx.get(f"{process.url}/api/v1/memory/health"), 401)
        key = {"X-API-Key": "sekret"}
        assert httpx.get(f"{process.url}/api/v1/memory/health", headers=key).status_code == 200
        failed(httpx.get(f"{process.url}/api/v1/memory/stats", headers=key), 403)


@pytest.mark.parametrize(("flag", "status"), [("--error-429-rate", 429), ("--error-500-rate", 503)])
def test_upstream_failures_are_mapped(
    tmp_path: Path, case: ResumeCase, flag: str, status: int
) -> None:
    with StubProcess([flag, "1", "--retry-after", "0"]) as failing:
        env = {"LLM_MAX_RETRIES": "1"}
        with ServiceProcess(failing.url, failing.api_key, tmp_path / "s.log", env) as process:
            body = {"job_description": case.job_description}
            response = httpx.post(f"{process.url}/api/v1/extract-jd-keywords", json=body)
            failed(response, status)
            if status == 429:
                assert "retry-after" in response.headers
