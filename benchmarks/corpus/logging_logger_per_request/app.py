"""A scoring service that puts the request id in its log records.

Reproduces DIRACGrid/DIRAC#5280 ("we are constantly creating child logger which are not
garbage collected, which results in sort of a memory leak"; also tarasko/picows#72, a logger
per connection): `logging.getLogger(name)` keeps every name it was asked for.
CORPUS_VARIANT=fixed uses one logger and a LoggerAdapter for the id.

    python app.py --port 8000
"""

from __future__ import annotations

import argparse
import logging
import os
import uuid

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

FIXED = os.environ.get("CORPUS_VARIANT") == "fixed"
logging.basicConfig(level=logging.WARNING, format="%(name)s %(request_id)s %(message)s")
BASE = logging.getLogger("api.request")


def _logger(request_id: str) -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    if FIXED:
        return logging.LoggerAdapter(BASE, {"request_id": request_id})
    return logging.LoggerAdapter(BASE.getChild(request_id), {"request_id": request_id})


async def score(request: Request) -> JSONResponse:
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    log = _logger(request_id)
    body = await request.json()
    resume = set(str(body.get("resume", "")).lower().replace(",", " ").split())
    job = set(str(body.get("job", "")).lower().replace(",", " ").split())
    matched = sorted(resume & job)
    log.info("scored %d matching words", len(matched))
    return JSONResponse({"request_id": request_id, "score": len(matched), "matched": matched})


def health(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/score", score, methods=["POST"]), Route("/health", health)])

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning")
