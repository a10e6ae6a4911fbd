"""The unified response envelope, and the mapping of every failure onto it (never a traceback)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("resume_api")


class ApiError(Exception):
    """An error the client should see, with its HTTP status and a stable error code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def envelope(
    data: Any = None,
    *,
    error: ApiError | None = None,
    warning: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "success": error is None,
        "data": data if data is not None else {},
        "error": {
            "has_error": error is not None,
            "code": error.code if error else "",
            "message": error.message if error else "",
            "details": error.details if error and error.details is not None else "",
        },
        "warning": warning or {"has_warning": False, "message": "", "suggestion": ""},
        "timestamp": datetime.now(UTC).isoformat(),
    }


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(envelope(error=error), status_code=error.status, headers=error.headers)


def _field_name(location: Sequence[Any]) -> str:
    parts = [str(part) for part in location if part != "body"]
    return ".".join(parts) or "body"


def _validation_error(exc: RequestValidationError) -> ApiError:
    errors = list(exc.errors())
    if any(err.get("type") == "json_invalid" for err in errors):
        return ApiError(400, "INVALID_JSON", "Request body is not valid JSON")
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    field = _field_name(first.get("loc", ("body",)))
    message = f"{field}: {first.get('msg', 'invalid value')}"
    details = [
        {
            "field": _field_name(err.get("loc", ())),
            "message": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in errors
    ]
    return ApiError(422, "VALIDATION_ERROR", message, details)


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(_validation_error(exc))

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        return error_response(ApiError(exc.status_code, code, str(exc.detail)))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(ApiError(500, "INTERNAL_ERROR", "Internal server error"))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
