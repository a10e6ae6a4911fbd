"""The fake Azure OpenAI answers the real openai SDK the way Azure does."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import openai
import pytest

from harness.upstream.process import StubProcess, StubStartError

API_VERSION = "2024-06-01"


def client(stub: StubProcess, api_key: str | None = None, retries: int = 0) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=stub.url,
        api_key=api_key or stub.api_key,
        api_version=API_VERSION,
        max_retries=retries,
    )


def chat(sdk: openai.AzureOpenAI, deployment: str, system: str, user: str) -> str:
    completion = sdk.chat.completions.create(
        model=deployment,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
    )
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert completion.choices[0].finish_reason == "stop"
    return completion.choices[0].message.content or ""


def test_keyword_task_answers_json_with_keywords_from_the_text(stub: StubProcess) -> None:
    job = "We need Python, FastAPI and Kubernetes. Python and FastAPI daily."
    user = f"Max keywords: 8\n<job_description>\n{job}\n</job_description>"
    answer = json.loads(chat(client(stub), "gpt-4.1", "Task: keyword-extraction", user))
    assert {"Python", "FastAPI"} <= set(answer["keywords"])
    assert 0.0 <= answer["confidence"] <= 1.0


def test_answers_are_deterministic_for_the_same_prompt(stub: StubProcess) -> None:
    sdk = client(stub)
    first = chat(sdk, "gpt-4.1", "Task: gap-analysis", "Resume: x\nJob: y Python")
    assert first == chat(sdk, "gpt-4.1", "Task: gap-analysis", "Resume: x\nJob: y Python")
    assert "<strengths>" in first and "<overall_assessment>" in first


def test_embeddings_have_the_deployment_dimensions_and_unit_length(stub: StubProcess) -> None:
    result = client(stub).embeddings.create(
        model="text-embedding-3-large", input=["Python developer", "Chef"]
    )
    assert [len(item.embedding) for item in result.data] == [3072, 3072]
    norm = sum(value * value for value in result.data[0].embedding) ** 0.5
    assert norm == pytest.approx(1.0, abs=1e-3)
    small = client(stub).embeddings.create(model="text-embedding-3-small", input="x")
    assert len(small.data[0].embedding) == 1536


def test_wrong_api_key_is_an_authentication_error(stub: StubProcess) -> None:
    with pytest.raises(openai.AuthenticationError):
        chat(client(stub, api_key="wrong"), "gpt-4.1", "Task: generic", "hello")


def test_missing_api_version_is_404_like_azure(stub: StubProcess) -> None:
    response = httpx.post(
        f"{stub.url}/openai/deployments/gpt-4.1/chat/completions",
        headers={"api-key": stub.api_key},
        json={"messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 404


def test_injected_429_carries_retry_after() -> None:
    with StubProcess(["--error-429-rate", "1", "--retry-after", "7"]) as stub:
        with pytest.raises(openai.RateLimitError) as caught:
            chat(client(stub), "gpt-4.1", "Task: generic", "hello")
        assert caught.value.response.headers["retry-after"] == "7"


def test_injected_500_is_a_server_error() -> None:
    with StubProcess(["--error-500-rate", "1"]) as stub, pytest.raises(openai.InternalServerError):
        chat(client(stub), "gpt-4.1", "Task: generic", "hello")


def test_latency_is_applied() -> None:
    with StubProcess(["--latency-ms", "300"]) as stub:
        sdk = client(stub)
        started = time.perf_counter()
        chat(sdk, "gpt-4.1", "Task: generic", "hello")
        assert time.perf_counter() - started >= 0.3


def test_fixture_rules_override_answers(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps([{"deployment": "support-bot", "pattern": "refund", "response": "No refunds."}])
    )
    with StubProcess(["--fixtures", str(rules)]) as stub:
        assert chat(client(stub), "support-bot", "You help.", "I want a refund") == "No refunds."
        assert chat(client(stub), "support-bot", "You help.", "Hello") != "No refunds."


def test_bad_settings_are_refused_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(StubStartError, match="error-429-rate"):
        StubProcess(["--error-429-rate", "2"])
    broken = tmp_path / "rules.json"
    broken.write_text("{not json")
    with pytest.raises(StubStartError, match=r"rules\.json"):
        StubProcess(["--fixtures", str(broken)])
