"""Calls to Azure OpenAI through the real openai SDK, with upstream failures mapped to the
service's errors (429 stays 429, 5xx and connection errors become 503, timeouts 504)."""

from __future__ import annotations

import asyncio
import json
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import openai

from resume_api.envelope import ApiError
from resume_api.resources import ResourceManager
from resume_api.services.text import text_key


@dataclass(frozen=True)
class ChatResult:
    content: str
    total_tokens: int


def _upstream_error(exc: openai.OpenAIError) -> ApiError:
    if isinstance(exc, openai.RateLimitError):
        retry_after = exc.response.headers.get("retry-after", "1")
        return ApiError(
            429,
            "RATE_LIMIT_EXCEEDED",
            "Azure OpenAI rate limit reached, retry later",
            headers={"Retry-After": retry_after},
        )
    if isinstance(exc, openai.APITimeoutError):
        return ApiError(504, "EXTERNAL_SERVICE_TIMEOUT", "Azure OpenAI did not answer in time")
    if isinstance(exc, openai.APIStatusError) and exc.status_code < 500:
        return ApiError(
            502, "EXTERNAL_SERVICE_ERROR", f"Azure OpenAI rejected the request ({exc.status_code})"
        )
    return ApiError(503, "EXTERNAL_SERVICE_UNAVAILABLE", "Azure OpenAI is unavailable, retry later")


async def chat(
    resources: ResourceManager,
    deployment: str,
    messages: list[dict[str, str]],
    *,
    json_mode: bool = False,
    seed: int | None = None,
    max_tokens: int = 4000,
    temperature: float = 0.0,
) -> ChatResult:
    client = resources.client(deployment)
    extra: dict[str, Any] = {}
    if json_mode:
        extra["response_format"] = {"type": "json_object"}
    if seed is not None:
        extra["seed"] = seed
    try:
        response = await client.chat.completions.create(
            model=deployment,
            messages=messages,  # type: ignore[arg-type]
            max_tokens=max_tokens,
            temperature=temperature,
            **extra,
        )
    except openai.OpenAIError as exc:
        raise _upstream_error(exc) from exc
    content = response.choices[0].message.content if response.choices else None
    if not content:
        raise ApiError(503, "EXTERNAL_SERVICE_UNAVAILABLE", "Azure OpenAI returned an empty answer")
    tokens = response.usage.total_tokens if response.usage else 0
    return ChatResult(content, tokens)


def parse_json_answer(result: ChatResult, task: str) -> dict[str, Any]:
    text = result.content.strip().removeprefix("```json").removeprefix("```").removesuffix("```")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ApiError(
            503, "EXTERNAL_SERVICE_UNAVAILABLE", f"{task}: the model's answer is not JSON"
        ) from None
    if not isinstance(value, dict):
        raise ApiError(
            503, "EXTERNAL_SERVICE_UNAVAILABLE", f"{task}: the model's answer is not a JSON object"
        )
    return value


async def _embed_one(resources: ResourceManager, text: str) -> array[float]:
    settings = resources.settings
    try:
        response = await resources.client(settings.embedding_deployment).embeddings.create(
            model=settings.embedding_deployment,
            input=text,
            dimensions=settings.embedding_dimensions,
        )
    except openai.OpenAIError as exc:
        raise _upstream_error(exc) from exc
    return array("f", response.data[0].embedding)


async def embeddings(resources: ResourceManager, texts: Sequence[str]) -> list[array[float]]:
    """Embeddings for each text, in parallel, through the bounded cache keyed by text hash."""
    cache = resources.embedding_cache
    keys = [text_key(text) for text in texts]
    found: list[bytes | None] = [cache.get(key) for key in keys]
    missing = [i for i, value in enumerate(found) if value is None]
    fetched = await asyncio.gather(*(_embed_one(resources, texts[i]) for i in missing))
    vectors: list[array[float]] = []
    for i, value in enumerate(found):
        if value is not None:
            vector = array("f")
            vector.frombytes(value)
            vectors.append(vector)
        else:
            vector = fetched[missing.index(i)]
            cache.put(keys[i], vector.tobytes())
            vectors.append(vector)
        padding = resources.leaks.take("unbounded-cache")
        if padding is not None:
            # The leak: a copy per request under a key that is never looked up again, and
            # outside the cache's bound and expiry.
            unit = resources.leaks.units["unbounded-cache"]
            copy = vectors[-1].tobytes()[:padding].ljust(padding, b"\x5a")
            cache.pin(f"{keys[i]}:{unit}", copy)
    return vectors
