"""A job service that writes each job's log to its own file.

Reproduces chanzuckerberg/miniwdl#301 ("Need to close FileHandlers after task/workflow
completion, otherwise we eventually hit 'Too many open files'"): a logger per job with a
FileHandler that is never closed keeps one open file per job. CORPUS_VARIANT=fixed closes and
removes the handler when the job is done, on a logger of its own that is not registered by
name.

    python app.py --port 8000 [--log-dir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import tempfile
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

FIXED = os.environ.get("CORPUS_VARIANT") == "fixed"
LOG_DIR = Path(tempfile.mkdtemp(prefix="jobs-"))
_ids = itertools.count(1)


async def run_job(request: Request) -> JSONResponse:
    spec = await request.json()
    job_id = next(_ids)
    # the fixed twin's logger is not registered by name either (that is the other case's leak)
    logger = logging.Logger(f"jobs.{job_id}") if FIXED else logging.getLogger(f"jobs.{job_id}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(LOG_DIR / f"job-{job_id % 100}.log")  # the files rotate
    logger.addHandler(handler)
    try:
        for step in spec.get("steps", []):
            logger.info("job %s: %s %s", job_id, step, spec.get("input"))
        return JSONResponse({"job": job_id, "steps": len(spec.get("steps", []))})
    finally:
        if FIXED:
            logger.removeHandler(handler)
            handler.close()


def health(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/jobs", run_job, methods=["POST"]), Route("/health", health)])

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning")
