"""The resource manager: everything the service holds across requests, opened at startup and
closed at shutdown, with the counts the memory endpoints report."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Coroutine
from typing import Any

from openai import AsyncAzureOpenAI

from resume_api.cache import BoundedCache
from resume_api.config import Settings
from resume_api.leaks import LeakInjector
from resume_api.memory import judged_memory_mb, release_memory
from resume_api.storage import BlobStore
from resume_api.telemetry import LatencyTracker, TelemetryBuffer

log = logging.getLogger("resume_api.resources")


class ResourceManager:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.leaks = LeakInjector(settings.leaks)
        self.embedding_cache = BoundedCache(
            "embeddings", settings.embedding_cache_entries, settings.embedding_cache_ttl_s
        )
        self.telemetry = TelemetryBuffer(settings.telemetry_max_events, self.leaks)
        self.latency = LatencyTracker(self.leaks)
        self.storage = BlobStore(
            settings.storage_connection_string,
            settings.resume_container,
            self.leaks,
            max_upload_bytes=settings.max_upload_bytes,
            upload_concurrency=settings.upload_concurrency,
            sas_ttl_s=settings.sas_ttl_s,
        )
        self.started_at = time.time()
        self.memory_status = "healthy"
        self._clients: dict[str, AsyncAzureOpenAI] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._leaked_clients: list[tuple[AsyncAzureOpenAI, bytes]] = []
        self._leaked_tasks: list[asyncio.Task[None]] = []
        self._never_set = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        for deployment in {
            self.settings.chat_deployment,
            self.settings.mini_deployment,
            self.settings.embedding_deployment,
        }:
            self._clients[deployment] = self._new_client()
        await self.storage.start()
        self._loops = [
            asyncio.create_task(
                self._every(self.settings.memory_check_interval_s, self.check_memory)
            ),
            asyncio.create_task(
                self._every(self.settings.telemetry_flush_interval_s, self.telemetry.flush)
            ),
        ]

    async def close(self) -> None:
        for task in [*self._loops, *self._tasks, *self._leaked_tasks]:
            task.cancel()
        await asyncio.gather(
            *self._loops, *self._tasks, *self._leaked_tasks, return_exceptions=True
        )
        self.telemetry.flush()
        for client in [*self._clients.values(), *(c for c, _ in self._leaked_clients)]:
            await client.close()
        self._clients.clear()
        await self.storage.close()
        self.embedding_cache.clear()
        self.leaks.close()

    def _new_client(self) -> AsyncAzureOpenAI:
        settings = self.settings
        return AsyncAzureOpenAI(
            api_key=settings.azure_api_key,
            azure_endpoint=settings.azure_endpoint,
            api_version=settings.api_version,
            timeout=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
        )

    # -- what request handlers use ----------------------------------------------------------
    def client(self, deployment: str) -> AsyncAzureOpenAI:
        """The shared client for a deployment (or, with the leak on, a fresh one never closed)."""
        padding = self.leaks.take("unclosed-http-client")
        if padding is not None:
            client = self._new_client()
            self._leaked_clients.append((client, b"\x5a" * padding))
            return client
        return self._clients[deployment]

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A background task the manager tracks until it finishes, and cancels at shutdown."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def audit(self, event: dict[str, Any]) -> None:
        """Per-request audit trail, written in the background so the response is not held."""
        self.spawn(self._write_audit(event), name="audit")
        padding = self.leaks.take("task-accumulation")
        if padding is not None:
            # The leak: an audit task that waits for an acknowledgement that never comes,
            # referenced forever by a list nobody prunes.
            payload = b"\x5a" * padding  # allocated here: tracemalloc names this line
            self._leaked_tasks.append(
                asyncio.create_task(self._await_ack(payload), name="audit-ack")
            )

    async def _write_audit(self, event: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        self.telemetry.record(event)

    async def _await_ack(self, payload: bytes) -> None:
        await self._never_set.wait()
        del payload

    # -- memory management ------------------------------------------------------------------
    async def _every(self, interval_s: float, action: Any) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                action()
            except Exception:  # a failing housekeeping step must not stop the loop
                log.exception("periodic %s failed", getattr(action, "__name__", action))

    def check_memory(self) -> str:
        """Trim caches at the warning threshold, clear them and collect at the critical one."""
        used_mb, _ = judged_memory_mb()
        self.embedding_cache.purge_expired()
        if used_mb >= self.settings.memory_critical_mb:
            self.memory_status = "critical"
            self.clear_caches()
            release_memory()
        elif used_mb >= self.settings.memory_warning_mb:
            self.memory_status = "warning"
            self.embedding_cache.trim(0.5)
            gc.collect()
        else:
            self.memory_status = "healthy"
        return self.memory_status

    def clear_caches(self) -> dict[str, int]:
        entries, size = self.embedding_cache.clear()
        flushed = self.telemetry.flush()
        return {
            "embedding_cache_entries": entries,
            "embedding_cache_bytes": size,
            "telemetry_events_flushed": flushed,
        }

    def stats(self) -> dict[str, Any]:
        return {
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "llm_clients": len(self._clients) + len(self._leaked_clients),
            "active_tasks": len(asyncio.all_tasks()),
            "background_tasks": len(self._tasks) + len(self._leaked_tasks),
            "caches": {"embeddings": self.embedding_cache.stats()},
            "cached_objects": len(self.embedding_cache),
            "cached_bytes": self.embedding_cache.bytes,
            "telemetry": self.telemetry.stats(),
            "latency_series": self.latency.series_count(),
            "storage": self.storage.stats(),
            "leaks": self.leaks.stats(),
        }
