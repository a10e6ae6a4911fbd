"""Resume files through `python -m resume_api` on a real Azurite, with the async
azure-storage-blob SDK: bytes round-trip, the SAS URL opens the file, delete is final, limits
and bad input get clear envelopes, an abandoned download does not stay open, uploads wait for
the concurrency bound, and without a storage account the file routes answer 503."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.service import ServiceProcess

from harness.upstream.azurite import AzuriteProcess
from harness.upstream.process import StubProcess

PDF = "application/pdf"
HTML = "text/html"
LIMIT = 3 << 20


@pytest.fixture(scope="module")
def azurite() -> Iterator[AzuriteProcess]:
    with AzuriteProcess() as process:
        yield process


@pytest.fixture(scope="module")
def service(
    stub: StubProcess, azurite: AzuriteProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    log = tmp_path_factory.mktemp("storage") / "service.log"
    env = {
        "AZURE_STORAGE_CONNECTION_STRING": azurite.api_key,
        "RESUME_MAX_UPLOAD_BYTES": str(LIMIT),
        "RESUME_SAS_TTL_SECONDS": "600",
    }
    with ServiceProcess(stub.url, stub.api_key, log, env=env) as process:
        yield process


def file_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def data_of(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True and body["error"]["has_error"] is False
    data: dict[str, Any] = body["data"]
    return data


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["has_error"] is True
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def upload(url: str, content: bytes, content_type: str) -> str:
    response = httpx.post(
        f"{url}/api/v1/resumes",
        content=content,
        headers={"Content-Type": content_type},
        params={"filename": "cv"},
        timeout=60,
    )
    data = data_of(response, 201)
    assert data["size"] == len(content) and data["content_type"] == content_type
    resume_id: str = data["resume_id"]
    return resume_id


@pytest.mark.parametrize(
    ("size", "content_type"),
    [(40_000, HTML), (2_600_000, PDF)],  # one put; staged blocks (1 MiB each)
    ids=["small-html", "multi-block-pdf"],
)
def test_upload_then_download_gives_the_same_bytes(
    service: ServiceProcess, size: int, content_type: str
) -> None:
    content = file_bytes(size, size)
    resume_id = upload(service.url, content, content_type)
    response = httpx.get(f"{service.url}/api/v1/resumes/{resume_id}", timeout=60)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    assert int(response.headers["content-length"]) == size
    assert response.content == content


def test_sas_url_opens_the_file_and_says_when_it_expires(
    service: ServiceProcess, azurite: AzuriteProcess
) -> None:
    content = file_bytes(70_000, 5)
    resume_id = upload(service.url, content, PDF)
    data = data_of(httpx.get(f"{service.url}/api/v1/resumes/{resume_id}/url", timeout=30))
    assert data["ttl_seconds"] == 600 and "sig=" in data["url"] and "sp=r" in data["url"]
    assert data["url"].startswith(f"{azurite.url}/devstoreaccount1/resumes/{resume_id}?")
    fetched = httpx.get(data["url"], timeout=30)
    assert fetched.status_code == 200 and fetched.content == content
    tampered = data["url"].replace("sp=r", "sp=rw")
    assert httpx.get(tampered, timeout=30).status_code == 403


def test_delete_is_final(service: ServiceProcess) -> None:
    resume_id = upload(service.url, file_bytes(30_000, 6), HTML)
    data = data_of(httpx.delete(f"{service.url}/api/v1/resumes/{resume_id}", timeout=30))
    assert data == {"resume_id": resume_id, "deleted": True}
    for response in (
        httpx.get(f"{service.url}/api/v1/resumes/{resume_id}", timeout=30),
        httpx.get(f"{service.url}/api/v1/resumes/{resume_id}/url", timeout=30),
        httpx.delete(f"{service.url}/api/v1/resumes/{resume_id}", timeout=30),
    ):
        assert error_of(response, 404)["code"] == "RESUME_NOT_FOUND"


def test_too_large_is_413_whether_declared_or_streamed(service: ServiceProcess) -> None:
    too_large = file_bytes(LIMIT + 1, 7)
    declared = httpx.post(
        f"{service.url}/api/v1/resumes",
        content=too_large,
        headers={"Content-Type": PDF},
        timeout=60,
    )
    error = error_of(declared, 413)
    assert error["code"] == "FILE_TOO_LARGE" and error["details"]["max_bytes"] == LIMIT

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit is found while streaming
        for start in range(0, len(too_large), 256 << 10):
            yield too_large[start : start + (256 << 10)]

    streamed = httpx.post(
        f"{service.url}/api/v1/resumes",
        content=chunked(),
        headers={"Content-Type": PDF},
        timeout=60,
    )
    assert error_of(streamed, 413)["code"] == "FILE_TOO_LARGE"
    assert service.stats()["storage"]["uploads_in_flight"] == 0


def test_bad_input_gets_clear_errors(service: ServiceProcess) -> None:
    url = service.url
    wrong_type = httpx.post(
        f"{url}/api/v1/resumes", content=b"x", headers={"Content-Type": "image/png"}
    )
    assert error_of(wrong_type, 415)["code"] == "UNSUPPORTED_MEDIA_TYPE"
    empty = httpx.post(f"{url}/api/v1/resumes", content=b"", headers={"Content-Type": PDF})
    assert error_of(empty, 400)["code"] == "EMPTY_FILE"
    for path in ("/api/v1/resumes/DEADBEEF", "/api/v1/resumes/not-an-id/url"):
        assert error_of(httpx.get(url + path), 400)["code"] == "INVALID_RESUME_ID"


def test_an_abandoned_download_is_closed(service: ServiceProcess) -> None:
    resume_id = upload(service.url, file_bytes(2_900_000, 8), PDF)
    with (
        httpx.Client(timeout=30) as client,
        client.stream("GET", f"{service.url}/api/v1/resumes/{resume_id}") as response,
    ):
        assert response.status_code == 200
        first = next(response.iter_raw(64 << 10))
        assert first
    # the connection is closed with most of the file unread
    deadline = time.monotonic() + 10
    while service.stats()["storage"]["open_downloads"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert service.stats()["storage"]["open_downloads"] == 0


def test_uploads_beyond_the_concurrency_bound_wait_their_turn(
    stub: StubProcess, azurite: AzuriteProcess, tmp_path: Path
) -> None:
    """Six slow uploads at once against a bound of 2: all stored, never more than 2 streaming
    into storage at a time (the bound is reached, so a missing one would show as 6)."""
    env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.api_key, "RESUME_UPLOAD_CONCURRENCY": "2"}
    content = file_bytes(1_500_000, 9)

    def slow_body() -> Iterator[bytes]:
        for start in range(0, len(content), 256 << 10):
            time.sleep(0.1)
            yield content[start : start + (256 << 10)]

    def one_upload(url: str) -> int:
        response = httpx.post(
            f"{url}/api/v1/resumes", content=slow_body(), headers={"Content-Type": PDF}, timeout=60
        )
        return response.status_code

    with ServiceProcess(stub.url, stub.api_key, tmp_path / "service.log", env=env) as service:
        with ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(one_upload, [service.url] * 6))
        storage = service.stats()["storage"]
    assert codes == [201] * 6
    assert storage["uploads_in_flight_peak"] == 2, storage
    assert storage["uploads_in_flight"] == 0


def test_without_storage_the_file_routes_answer_503(stub: StubProcess, tmp_path: Path) -> None:
    """The service starts without a storage account; its file routes say what is missing, the
    rest of the API works."""
    env = {"AZURE_STORAGE_CONNECTION_STRING": ""}
    with ServiceProcess(stub.url, stub.api_key, tmp_path / "service.log", env=env) as service:
        url = f"{service.url}/api/v1/resumes"
        any_id = "0" * 32  # well-formed, never uploaded
        answers = [
            httpx.post(url, content=b"%PDF-1.7", headers={"Content-Type": PDF}),
            httpx.get(f"{url}/{any_id}"),
            httpx.get(f"{url}/{any_id}/url"),
            httpx.delete(f"{url}/{any_id}"),
        ]
        for response in answers:
            error = error_of(response, 503)
            assert "AZURE_STORAGE_CONNECTION_STRING" in error["message"], error
        assert service.stats()["storage"]["configured"] is False
        assert httpx.get(f"{service.url}/health").status_code == 200
