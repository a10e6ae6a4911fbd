"""One pure-ASGI middleware for what every request passes through: API key, request id,
latency, telemetry and the audit trail (and the per-request leak hooks that live there)."""

from __future__ import annotations

import hmac
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resume_api.envelope import ApiError, error_response
from resume_api.leaks import ballast
from resume_api.resources import ResourceManager

_OPEN_PATHS = ("/health", "/docs", "/redoc", "/openapi.json")


def _is_api_route(path: str) -> bool:
    return path.startswith("/api/v1/") and not path.startswith("/api/v1/memory")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, resources: ResourceManager) -> None:
        self.app = app
        self.resources = resources

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1") or uuid.uuid4().hex
        expected_key = self.resources.settings.api_key
        if expected_key and not path.startswith(_OPEN_PATHS):
            given = headers.get(b"x-api-key", b"").decode("latin-1")
            if not hmac.compare_digest(given, expected_key):
                error = ApiError(401, "UNAUTHORIZED", "missing or invalid X-API-Key header")
                await error_response(error)(scope, receive, send)
                return

        status = 500

        async def send_with_context(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        api_route = _is_api_route(path)
        if api_route:
            self.resources.leaks.tick()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_context)
        finally:
            if api_route:
                self._after_api_request(
                    scope, path, request_id, status, time.perf_counter() - started
                )

    def _after_api_request(
        self, scope: Scope, path: str, request_id: str, status: int, seconds: float
    ) -> None:
        resources = self.resources
        query = scope.get("query_string", b"").decode("latin-1")
        raw_url = f"{path}?{query}" if query else path
        route: Any = scope.get("route")
        template = getattr(route, "path", path)
        resources.latency.record(template, raw_url, request_id, seconds)
        resources.audit(
            {
                "request_id": request_id,
                "route": template,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "at": time.time(),
            }
        )
        leaks = resources.leaks
        native_padding = leaks.take("native-malloc")
        if native_padding is not None and leaks.native is not None:
            leaks.native.leak(native_padding)
        retained = leaks.take("allocator-retention")
        if retained is not None and leaks.retention is not None:
            leaks.retention.add(retained)
        shm_padding = leaks.take("shm-spill")
        if shm_padding is not None and leaks.shm is not None:
            leaks.shm.spill(ballast(shm_padding))
