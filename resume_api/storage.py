"""Resume files on Azure Blob Storage through the async azure-storage-blob SDK.

One BlobServiceClient and one credential for the life of the process (each client owns an
aiohttp session and its connection pool), closed at shutdown. Uploads are streamed into staged
blocks of `BLOCK_SIZE`, at most `upload_concurrency` at once, so memory is bounded by
concurrency x block, not by file size. Downloads are streamed chunk by chunk and closed on every
path. The leak switches of the blob patterns live here, next to the code they break."""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobBlock, BlobSasPermissions, ContentSettings, generate_blob_sas
from azure.storage.blob.aio import BlobClient, BlobServiceClient, StorageStreamDownloader

from resume_api.config import parse_connection_string
from resume_api.envelope import ApiError
from resume_api.leaks import LeakInjector, ballast

log = logging.getLogger("resume_api.storage")

BLOCK_SIZE = 1 << 20  # one staged block; also the download chunk
CONTENT_TYPES = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "text/html": ".html",
}


class StorageNotConfigured(ApiError):
    def __init__(self) -> None:
        super().__init__(
            503,
            "STORAGE_NOT_CONFIGURED",
            "resume storage is not configured (AZURE_STORAGE_CONNECTION_STRING)",
        )


@dataclass(frozen=True)
class StoredResume:
    resume_id: str
    content_type: str
    size: int


def _not_found(resume_id: str) -> ApiError:
    return ApiError(404, "RESUME_NOT_FOUND", f"no resume with id {resume_id}")


def _storage_error(exc: AzureError) -> ApiError:
    log.warning("blob storage error: %s", exc)
    return ApiError(503, "STORAGE_UNAVAILABLE", "resume storage is unavailable, retry later")


class BlobStore:
    def __init__(
        self,
        connection_string: str | None,
        container: str,
        leaks: LeakInjector,
        *,
        max_upload_bytes: int,
        upload_concurrency: int,
        sas_ttl_s: float,
    ) -> None:
        self.connection_string = connection_string
        self.parts = parse_connection_string(connection_string) if connection_string else {}
        self.container = container
        self.leaks = leaks
        self.max_upload_bytes = max_upload_bytes
        self.sas_ttl = timedelta(seconds=sas_ttl_s)
        self._uploads = asyncio.Semaphore(upload_concurrency)
        self._credential: AzureNamedKeyCredential | None = None
        self._client: BlobServiceClient | None = None
        self.uploads_in_flight = 0
        self.uploads_in_flight_peak = 0  # the bound at work: never above upload_concurrency
        self.open_downloads = 0
        # what the leak switches keep, each with its padding to the configured rate
        self._leaked_clients: list[tuple[BlobServiceClient, bytes]] = []
        self._leaked_credentials: list[tuple[AzureNamedKeyCredential, bytes]] = []
        self._leaked_sas_clients: list[tuple[BlobClient, bytes]] = []
        self._leaked_downloads: list[tuple[StorageStreamDownloader[bytes], bytes]] = []
        self._retry_buffers: list[bytes] = []

    @property
    def configured(self) -> bool:
        return bool(self.connection_string)

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if not self.configured:
            return
        self._credential = self._new_credential()
        self._client = self._new_client(self._credential)
        try:
            await self._client.create_container(self.container)
        except ResourceExistsError:
            pass
        except AzureError as exc:  # the service still starts; the routes answer 503
            log.error("resume storage: cannot create container %s: %s", self.container, exc)

    async def close(self) -> None:
        clients: list[BlobServiceClient | BlobClient] = [c for c, _ in self._leaked_clients]
        clients += [c for c, _ in self._leaked_sas_clients]
        if self._client is not None:
            clients.append(self._client)
        for client in clients:
            await client.close()
        self._client = None

    def _new_credential(self) -> AzureNamedKeyCredential:
        return AzureNamedKeyCredential(self.parts["AccountName"], self.parts["AccountKey"])

    def _new_client(self, credential: AzureNamedKeyCredential) -> BlobServiceClient:
        assert self.connection_string is not None
        return BlobServiceClient.from_connection_string(
            self.connection_string,
            credential=credential,
            max_single_get_size=BLOCK_SIZE,
            max_chunk_get_size=BLOCK_SIZE,
            max_block_size=BLOCK_SIZE,
        )

    # -- the clients requests use ----------------------------------------------------------
    def _service(self) -> BlobServiceClient:
        """The shared client, or with a leak due a fresh one (and credential), never closed."""
        if self._client is None or self._credential is None:
            raise StorageNotConfigured()
        credential = self._credential
        padding = self.leaks.take("credential-per-request")
        if padding is not None:
            credential = self._new_credential()
            self._leaked_credentials.append((credential, ballast(padding)))
        padding = self.leaks.take("blob-client-per-request")
        if padding is not None:
            client = self._new_client(credential)
            self._leaked_clients.append((client, ballast(padding)))
            return client
        return self._client

    def _blob(self, resume_id: str) -> BlobClient:
        return self._service().get_blob_client(self.container, resume_id)

    # -- operations ------------------------------------------------------------------------
    async def upload(
        self, body: AsyncIterator[bytes], content_type: str, declared: int | None
    ) -> StoredResume:
        if content_type not in CONTENT_TYPES:
            raise ApiError(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"Content-Type {content_type or '(none)'} is not a resume file; "
                f"send one of {', '.join(CONTENT_TYPES)}",
            )
        if declared is not None and declared > self.max_upload_bytes:
            raise self._too_large()
        blob = self._blob(uuid.uuid4().hex)
        settings = ContentSettings(content_type=content_type)
        if self.leaks.enabled("unbounded-upload-buffer"):
            return await self._upload_buffered(blob, body, settings)
        async with self._uploads:
            self.uploads_in_flight += 1
            self.uploads_in_flight_peak = max(self.uploads_in_flight_peak, self.uploads_in_flight)
            try:
                size = await self._upload_blocks(blob, body, settings)
            except AzureError as exc:
                raise _storage_error(exc) from exc
            finally:
                self.uploads_in_flight -= 1
        return StoredResume(blob.blob_name, content_type, size)

    async def _upload_blocks(
        self, blob: BlobClient, body: AsyncIterator[bytes], settings: ContentSettings
    ) -> int:
        """Stream the body into staged blocks; commit them once the whole file arrived."""
        block = bytearray()
        blocks: list[BlobBlock] = []
        size = 0
        async for chunk in body:
            size += len(chunk)
            if size > self.max_upload_bytes:
                raise self._too_large()
            block += chunk
            if len(block) >= BLOCK_SIZE:
                blocks.append(await self._stage(blob, len(blocks), bytes(block)))
                block.clear()
        if size == 0:
            raise ApiError(400, "EMPTY_FILE", "the request body is empty: send the file's bytes")
        if not blocks:  # a small file: one request
            await blob.upload_blob(bytes(block), content_settings=settings)
            return size
        if block:
            blocks.append(await self._stage(blob, len(blocks), bytes(block)))
        await blob.commit_block_list(blocks, content_settings=settings)
        return size

    async def _stage(self, blob: BlobClient, index: int, data: bytes) -> BlobBlock:
        block_id = base64.b64encode(f"{index:08d}".encode()).decode()
        await blob.stage_block(block_id, data)
        return BlobBlock(block_id=block_id)

    async def _upload_buffered(
        self, blob: BlobClient, body: AsyncIterator[bytes], settings: ContentSettings
    ) -> StoredResume:
        """The leak: the whole file read into memory, no concurrency bound, and the buffer kept
        for a retry that never comes."""
        chunks = [chunk async for chunk in body]
        data = b"".join(chunks)
        if len(data) > self.max_upload_bytes:
            raise self._too_large()
        if not data:
            raise ApiError(400, "EMPTY_FILE", "the request body is empty: send the file's bytes")
        try:
            await blob.upload_blob(data, content_settings=settings)
        except AzureError as exc:
            raise _storage_error(exc) from exc
        due = self.leaks.take("unbounded-upload-buffer")
        if due is not None:
            kept = data[:due] if len(data) > due else data
            self._retry_buffers.append(kept)
        return StoredResume(blob.blob_name, settings.content_type or "", len(data))

    def _too_large(self) -> ApiError:
        return ApiError(
            413,
            "FILE_TOO_LARGE",
            f"the file is larger than the {self.max_upload_bytes} bytes allowed",
            {"max_bytes": self.max_upload_bytes},
        )

    async def open_download(self, resume_id: str) -> StorageStreamDownloader[bytes]:
        try:
            return await self._blob(resume_id).download_blob()
        except ResourceNotFoundError:
            raise _not_found(resume_id) from None
        except AzureError as exc:
            raise _storage_error(exc) from exc

    async def stream(self, downloader: StorageStreamDownloader[bytes]) -> AsyncIterator[bytes]:
        """The download's chunks; the caller closes this generator on every path."""
        self.open_downloads += 1
        finished = False
        try:
            async for chunk in downloader.chunks():
                yield chunk
            finished = True
        finally:
            padding = None if finished else self.leaks.take("unclosed-download-stream")
            if padding is not None:
                # The leak: an abandoned download is forgotten open, holding its downloader
                # and the chunk it had fetched.
                self._leaked_downloads.append((downloader, ballast(padding)))
            else:
                self.open_downloads -= 1

    async def sas_url(self, resume_id: str) -> tuple[str, datetime]:
        blob = self._blob(resume_id)
        try:
            await blob.get_blob_properties()
        except ResourceNotFoundError:
            raise _not_found(resume_id) from None
        except AzureError as exc:
            raise _storage_error(exc) from exc
        expiry = datetime.now(UTC) + self.sas_ttl
        signer: BlobClient = blob
        padding = self.leaks.take("sas-client-per-call")
        if padding is not None:
            # The leak: a client built from the connection string for every signature.
            assert self.connection_string is not None
            signer = BlobClient.from_connection_string(
                self.connection_string, self.container, resume_id
            )
            self._leaked_sas_clients.append((signer, ballast(padding)))
        token = generate_blob_sas(
            signer.account_name or self.parts["AccountName"],
            self.container,
            resume_id,
            account_key=self.parts["AccountKey"],
            permission=BlobSasPermissions(read=True),
            expiry=expiry,
        )
        return f"{signer.url}?{token}", expiry

    async def delete(self, resume_id: str) -> None:
        try:
            await self._blob(resume_id).delete_blob()
        except ResourceNotFoundError:
            raise _not_found(resume_id) from None
        except AzureError as exc:
            raise _storage_error(exc) from exc

    def stats(self) -> dict[str, Any]:
        return {
            "configured": self.configured,
            "clients": (1 if self._client else 0) + len(self._leaked_clients),
            "sas_clients": len(self._leaked_sas_clients),
            "credentials": (1 if self._credential else 0) + len(self._leaked_credentials),
            "uploads_in_flight": self.uploads_in_flight,
            "uploads_in_flight_peak": self.uploads_in_flight_peak,
            "open_downloads": self.open_downloads,
            "retry_buffers": len(self._retry_buffers),
        }
