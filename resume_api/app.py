"""The FastAPI application: lifespan (the resource manager), middleware, routes, errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from resume_api import __version__
from resume_api.config import Settings
from resume_api.envelope import install_error_handlers
from resume_api.middleware import RequestContextMiddleware
from resume_api.resources import ResourceManager
from resume_api.routes import api, memory, resumes

log = logging.getLogger("resume_api")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    resources = ResourceManager(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await resources.start()
        if settings.leaks:
            log.warning("leak switches ON: %s", settings.leaks)
        try:
            yield
        finally:
            await resources.close()

    app = FastAPI(
        title="AI Resume Advisor API (bundled model)",
        version=__version__,
        lifespan=lifespan,
    )
    app.state.resources = resources
    install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(resumes.router)
    app.include_router(memory.router)
    app.include_router(memory.guarded)
    app.add_middleware(RequestContextMiddleware, resources=resources)
    return app
