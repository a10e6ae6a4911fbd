"""The ASGI app: Azure OpenAI's routes, api-key auth, Azure-shaped errors, latency and error
injection, and counters at /_stub/stats."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.upstream import embeddings, fixtures, tasks
from harness.upstream.config import StubConfig


def azure_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": str(status), "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class Stub:
    def __init__(self, config: StubConfig) -> None:
        config.validate()
        self.config = config
        self.rules = fixtures.load_rules(config.fixtures) if config.fixtures else []
        self.random = random.Random(config.seed)
        self.counts: Counter[str] = Counter()
        self.bytes_served = 0

    def _authorised(self, request: Request) -> bool:
        key = request.headers.get("api-key")
        if key is None:
            bearer = request.headers.get("authorization", "")
            key = bearer.removeprefix("Bearer ") if bearer.startswith("Bearer ") else None
        return key == self.config.api_key

    async def _delay(self, kind: str, override_ms: float | None) -> None:
        config = self.config
        base = config.latency_ms
        if kind == "embeddings" and config.embedding_latency_ms is not None:
            base = config.embedding_latency_ms
        if override_ms is not None:
            base = override_ms
        delay = base + (self.random.uniform(0, config.jitter_ms) if config.jitter_ms else 0.0)
        if delay > 0:
            await asyncio.sleep(delay / 1000.0)

    def _injected_error(self) -> JSONResponse | None:
        draw = self.random.random()
        if draw < self.config.error_429_rate:
            self.counts["injected_429"] += 1
            return azure_error(
                429,
                "Requests to the ChatCompletions_Create Operation have exceeded the call rate "
                "limit of your current pricing tier. Please retry after the time given.",
                headers={"Retry-After": f"{self.config.retry_after_s:g}"},
            )
        if draw < self.config.error_429_rate + self.config.error_500_rate:
            self.counts["injected_500"] += 1
            return azure_error(500, "The server had an error while processing your request.")
        return None

    async def _prelude(self, request: Request, kind: str) -> dict[str, Any] | Response:
        self.counts[f"requests_{kind}"] += 1
        if not self._authorised(request):
            self.counts["unauthorised"] += 1
            return azure_error(
                401,
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure "
                "to provide a valid key for an active subscription and use a correct regional "
                "API endpoint for your resource.",
            )
        if "api-version" not in request.query_params:
            return azure_error(404, "Resource not found")
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return azure_error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return azure_error(400, "The request body must be a JSON object.")
        error = self._injected_error()
        return error if error is not None else body

    def _send(self, payload: dict[str, Any]) -> Response:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.bytes_served += len(data)
        return Response(data, media_type="application/json")

    async def chat(self, request: Request) -> Response:
        deployment = request.path_params["deployment"]
        body = await self._prelude(request, "chat")
        if isinstance(body, Response):
            return body
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return azure_error(
                400, "'messages' is a required property and must be a non-empty array."
            )
        if body.get("stream"):
            return azure_error(400, "This fake Azure OpenAI does not support stream=true.")
        text = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        rule = fixtures.find(self.rules, deployment, "chat", text)
        await self._delay("chat", rule.latency_ms if rule else None)
        if rule is not None:
            self.counts["fixture_hits"] += 1
            if rule.status != 200:
                return azure_error(rule.status, rule.content or "Injected by fixture")
            task, content = "fixture", rule.content
        else:
            json_mode = (body.get("response_format") or {}).get("type") == "json_object"
            seed = body.get("seed") if isinstance(body.get("seed"), int) else None
            task, content = tasks.answer(
                [m for m in messages if isinstance(m, dict)], seed, json_mode
            )
        self.counts[f"task_{task}"] += 1
        self.counts[f"deployment_{deployment}"] += 1
        prompt_tokens, completion_tokens = _tokens(text), _tokens(content)
        return self._send(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": deployment,
                "system_fingerprint": "fp_fake_azure",
                "prompt_filter_results": [
                    {"prompt_index": 0, "content_filter_results": {}},
                ],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "finish_reason": "stop",
                        "logprobs": None,
                        "content_filter_results": {},
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )

    async def embeddings(self, request: Request) -> Response:
        deployment = request.path_params["deployment"]
        body = await self._prelude(request, "embeddings")
        if isinstance(body, Response):
            return body
        raw_input = body.get("input")
        inputs = [raw_input] if isinstance(raw_input, str) else raw_input
        if (
            not isinstance(inputs, list)
            or not inputs
            or not all(isinstance(i, str) for i in inputs)
        ):
            return azure_error(400, "'input' must be a string or a non-empty array of strings.")
        native = embeddings.native_dimensions(deployment)
        dimensions = body.get("dimensions", native)
        if not isinstance(dimensions, int) or not 1 <= dimensions <= native:
            return azure_error(400, f"'dimensions' must be an integer from 1 to {native}.")
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            return azure_error(400, "'encoding_format' must be 'float' or 'base64'.")
        await self._delay("embeddings", None)
        self.counts[f"deployment_{deployment}"] += 1
        tokens = sum(_tokens(text) for text in inputs)
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": embeddings.encode(embeddings.embed(text, dimensions), encoding),
            }
            for i, text in enumerate(inputs)
        ]
        return self._send(
            {
                "object": "list",
                "data": data,
                "model": deployment,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def health(self, _: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def stats(self, _: Request) -> Response:
        return JSONResponse({**self.counts, "bytes_served": self.bytes_served})


def create_app(config: StubConfig | None = None) -> Starlette:
    stub = Stub(config or StubConfig())
    prefix = "/openai/deployments/{deployment}"
    app = Starlette(
        routes=[
            Route(f"{prefix}/chat/completions", stub.chat, methods=["POST"]),
            Route(f"{prefix}/embeddings", stub.embeddings, methods=["POST"]),
            Route("/_stub/health", stub.health),
            Route("/_stub/stats", stub.stats),
        ]
    )
    app.state.stub = stub
    return app
