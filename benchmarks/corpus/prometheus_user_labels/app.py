"""A user profile service with Prometheus request metrics.

Reproduces the leak of BerriAI/litellm#12159 (metrics "labelled with high cardinality fields
like user_id ... many thousands of separate metrics that never get GC'ed"): a histogram with a
user_id label keeps one child per user ever seen. CORPUS_VARIANT=fixed labels by route only.

    python app.py --port 8000
"""

from __future__ import annotations

import argparse
import os
import time

import uvicorn
from prometheus_client import Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

FIXED = os.environ.get("CORPUS_VARIANT") == "fixed"
LATENCY = Histogram(
    "profile_request_seconds",
    "Profile request latency",
    ["route", "status"] if FIXED else ["route", "status", "user_id"],
)


def profile(request: Request) -> JSONResponse:
    started = time.perf_counter()
    user_id = request.path_params["user_id"]
    body = {"user": user_id, "plan": "free", "resumes": 3}
    labels = (
        ("/users/{user_id}/profile", "200")
        if FIXED
        else ("/users/{user_id}/profile", "200", user_id)
    )
    LATENCY.labels(*labels).observe(time.perf_counter() - started)
    return JSONResponse(body)


def metrics(_request: Request) -> Response:
    return Response(generate_latest(), media_type="text/plain")


def health(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/users/{user_id}/profile", profile),
        Route("/metrics", metrics),
        Route("/health", health),
    ]
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning")
