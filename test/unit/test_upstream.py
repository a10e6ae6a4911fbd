"""The fake Azure OpenAI's content: task detection, embeddings, override rules, settings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.upstream import embeddings, fixtures, tasks
from harness.upstream.config import StubConfig, StubConfigError


def _chat(system: str, user: str) -> tuple[str, str]:
    messages: list[dict[str, object]] = [
        {"role": "system", "content": system},
        {"role": "user", "content": user},
    ]
    return tasks.answer(messages, None, False)


def test_task_is_read_from_the_system_prompt() -> None:
    assert tasks.task_of("You are an expert.\nTask: gap-analysis\nMore") == "gap-analysis"
    assert tasks.task_of("No task line here") is None


def test_keywords_prefer_repeated_and_distinctive_terms() -> None:
    text = "Senior engineer. Python and FastAPI. We deploy with CI/CD. Python again, Node.js too."
    ranked = tasks.candidate_keywords(text)
    assert ranked.index("Python") < ranked.index("Senior")
    assert {"CI/CD", "Node.js", "FastAPI"} <= set(ranked[:5])


def test_seeded_keyword_rounds_mostly_agree() -> None:
    job = " ".join(f"Skill{i}X" for i in range(40))
    user = f"Max keywords: 16\n<job_description>{job}</job_description>"
    first = json.loads(tasks.keyword_extraction(user, 1, ""))["keywords"]
    second = json.loads(tasks.keyword_extraction(user, 2, ""))["keywords"]
    assert len(first) == len(second) == 16
    assert 12 <= len(set(first) & set(second)) < 16


def test_unknown_task_in_json_mode_is_still_json() -> None:
    messages: list[dict[str, object]] = [{"role": "user", "content": "hi"}]
    task, content = tasks.answer(messages, None, True)
    assert task == "generic" and isinstance(json.loads(content), dict)


def test_embeddings_are_unit_vectors_and_similar_texts_are_close() -> None:
    a = embeddings.embed("senior python developer with fastapi", 256)
    b = embeddings.embed("python developer fastapi senior engineer", 256)
    c = embeddings.embed("pastry chef with french cuisine", 256)
    assert math.isclose(math.fsum(x * x for x in a), 1.0, rel_tol=1e-4)
    cosine = lambda u, v: math.fsum(x * y for x, y in zip(u, v, strict=True))  # noqa: E731
    assert cosine(a, b) > cosine(a, c)


def test_embedding_dimensions_follow_the_deployment_name() -> None:
    assert embeddings.native_dimensions("text-embedding-3-small") == 1536
    assert embeddings.native_dimensions("prod-ada-002") == 1536
    assert embeddings.native_dimensions("text-embedding-3-large") == 3072


def test_base64_encoding_round_trips() -> None:
    import base64
    from array import array

    vector = embeddings.embed("hello world", 8)
    encoded = embeddings.encode(vector, "base64")
    assert isinstance(encoded, str)
    assert list(array("f", base64.b64decode(encoded))) == list(vector)


def test_fixture_rules_match_by_deployment_kind_and_pattern(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        '[[rule]]\ndeployment = "gpt-4*"\npattern = "summari[sz]e"\nresponse = "Short."\n'
        "[[rule]]\nresponse = {json = {ok = true}}\nstatus = 200\n"
    )
    rules = fixtures.load_rules(path)
    assert fixtures.find(rules, "gpt-4o", "chat", "please summarise") is rules[0]
    assert fixtures.find(rules, "mini", "chat", "please summarise") is rules[1]
    assert json.loads(rules[1].content) == {"ok": True}


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"colour": "red"}, "unknown key"),
        ({"kind": "images"}, "kind must be"),
        ({"pattern": "("}, "not a valid regex"),
        ({"status": 99}, "status must be"),
        ({"response": 5}, "response must be"),
    ],
)
def test_bad_rules_say_what_to_fix(tmp_path: Path, rule: dict[str, object], message: str) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps([rule]))
    with pytest.raises(StubConfigError, match=message):
        fixtures.load_rules(path)


def test_settings_are_validated() -> None:
    with pytest.raises(StubConfigError, match="error-429-rate"):
        StubConfig(error_429_rate=1.5).validate()
    with pytest.raises(StubConfigError, match="must not exceed 1"):
        StubConfig(error_429_rate=0.6, error_500_rate=0.6).validate()
    StubConfig(latency_ms=10, jitter_ms=5).validate()
