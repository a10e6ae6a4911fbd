"""A report service that renders a PNG chart per request with matplotlib.

Reproduces the leak of nccgroup/SteppingStones#2 ("Reporting Causes Memory Leak and Crash"):
figures made through pyplot are kept by its figure manager until `plt.close()`, so a route
that draws with pyplot and returns the PNG keeps every figure it ever drew. CORPUS_VARIANT=fixed
draws on a `matplotlib.figure.Figure`, as matplotlib's web-server example does.

    python app.py --port 8000
"""

from __future__ import annotations

import argparse
import io
import math
import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import uvicorn
from matplotlib.figure import Figure
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

FIXED = os.environ.get("CORPUS_VARIANT") == "fixed"
plt.rcParams["figure.max_open_warning"] = 0  # the leaky service silenced the warning too


def _draw(points: int) -> bytes:
    xs = [i / 10 for i in range(points)]
    ys = [math.sin(x) * math.exp(-x / 50) for x in xs]
    size = (19.2, 10.8)  # a full-HD dashboard chart (the size of matplotlib#8519's report)
    fig = Figure(figsize=size) if FIXED else plt.figure(figsize=size)
    ax = fig.subplots()
    ax.plot(xs, ys)
    ax.set_title(f"{points} points")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def chart(request: Request) -> Response:
    points = min(int(request.query_params.get("points", "100")), 2000)
    return Response(_draw(points), media_type="image/png")


def health(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/chart", chart), Route("/health", health)])

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning")
