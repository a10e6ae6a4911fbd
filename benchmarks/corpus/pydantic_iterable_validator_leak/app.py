"""Telemetry-ingest service that reproduces pydantic/pydantic#9243.

Issue: https://github.com/pydantic/pydantic/issues/9243 ("Memory leak when
using Iterable"), fixed by https://github.com/pydantic/pydantic-core/pull/1271
("fix memory leak with iterable validation"), released in pydantic-core 2.18.2
(pydantic 2.7.1).

``POST /ingest`` takes a batch of sensor readings as JSON and validates it with
a pydantic model whose ``readings`` field is typed ``Iterable[float]`` (so the
handler can stream over the values), then returns summary statistics.  In
pydantic-core 2.18.1 the field value is a ``ValidatorIterator`` that holds the
input list and is referenced from the model's ``__dict__``, which refers back
to it; the iterator did not implement GC traversal, so the cycle is invisible
to the garbage collector and the model, its dict, the iterator and the whole
list of readings are never freed -- one batch per request.

Run: ``python app.py --port PORT`` (listens on 127.0.0.1, ``GET /health``).
"""

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pydantic import BaseModel, Field, ValidationError


class ReadingBatch(BaseModel):
    device_id: str
    metric: str
    unit: str = "C"
    interval_s: int = Field(default=60, gt=0)
    readings: Iterable[float]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _send(self, code, payload):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path != "/ingest":
            self._send(404, {"error": "not found"})
            return
        try:
            batch = ReadingBatch.model_validate_json(body)
            count, total, lo, hi = 0, 0.0, float("inf"), float("-inf")
            for value in batch.readings:  # streams through the ValidatorIterator
                count += 1
                total += value
                lo = min(lo, value)
                hi = max(hi, value)
        except ValidationError as exc:
            self._send(422, {"error": exc.errors(include_url=False)})
            return
        self._send(
            200,
            {
                "device_id": batch.device_id,
                "metric": batch.metric,
                "count": count,
                "mean": round(total / count, 3) if count else None,
                "min": lo if count else None,
                "max": hi if count else None,
            },
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
