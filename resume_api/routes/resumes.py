"""Resume files: upload, download, a temporary SAS URL, delete (resume_api/storage.py).

The upload body is the file's raw bytes (Content-Type: the file's type, `?filename=` optional),
so it streams straight into storage without a multipart parser spooling it first."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from resume_api.envelope import ApiError, envelope
from resume_api.resources import ResourceManager
from resume_api.storage import BlobStore

router = APIRouter()
_ID = re.compile(r"^[0-9a-f]{32}$")


class ClosingStreamingResponse(StreamingResponse):
    """Closes its body iterator on every path: finished, client gone, or an error. Starlette
    otherwise leaves an abandoned async generator to the garbage collector."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            closer = getattr(self.body_iterator, "aclose", None)
            if closer is not None:
                await closer()


def _store(request: Request) -> BlobStore:
    resources: ResourceManager = request.app.state.resources
    return resources.storage


def _checked_id(resume_id: str) -> str:
    if not _ID.match(resume_id):
        raise ApiError(
            400, "INVALID_RESUME_ID", "a resume id is 32 lowercase hex digits, as upload returns"
        )
    return resume_id


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "INVALID_CONTENT_LENGTH", "Content-Length is not a number") from None


@router.post("/api/v1/resumes", status_code=201)
async def upload_resume(request: Request, filename: str = "") -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body: AsyncIterator[bytes] = request.stream()
    stored = await _store(request).upload(body, content_type, _declared_length(request))
    return envelope(
        {
            "resume_id": stored.resume_id,
            "content_type": stored.content_type,
            "size": stored.size,
            "filename": filename,
        }
    )


@router.get("/api/v1/resumes/{resume_id}", response_model=None)
async def download_resume(request: Request, resume_id: str) -> StreamingResponse:
    store = _store(request)
    downloader = await store.open_download(_checked_id(resume_id))
    settings = downloader.properties.content_settings
    return ClosingStreamingResponse(
        store.stream(downloader),
        media_type=settings.content_type or "application/octet-stream",
        headers={"Content-Length": str(downloader.size)},
    )


@router.get("/api/v1/resumes/{resume_id}/url")
async def resume_url(request: Request, resume_id: str) -> dict[str, Any]:
    store = _store(request)
    url, expiry = await store.sas_url(_checked_id(resume_id))
    return envelope(
        {
            "resume_id": resume_id,
            "url": url,
            "expires_at": expiry.isoformat(),
            "ttl_seconds": int(store.sas_ttl.total_seconds()),
        }
    )


@router.delete("/api/v1/resumes/{resume_id}")
async def delete_resume(request: Request, resume_id: str) -> dict[str, Any]:
    await _store(request).delete(_checked_id(resume_id))
    return envelope({"resume_id": resume_id, "deleted": True})
