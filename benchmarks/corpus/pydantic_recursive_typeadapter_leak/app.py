"""Comment-thread import service that reproduces pydantic/pydantic#8397.

Issue: https://github.com/pydantic/pydantic/issues/8397 ("Memory leak when
converting a list of dicts to a list pydantic-models using TypeAdapter?",
reported from a FastAPI route), fixed by
https://github.com/pydantic/pydantic-core/pull/1125 ("fix memory leak with
recursive definitions creating reference cycles"), released in pydantic-core
2.14.6 (pydantic 2.5.3).

``POST /threads/import`` receives a list of comments, each with nested
``replies`` (a self-referencing model), and parses it with the pydantic v1
``parse_obj_as`` migration pattern: a helper that builds
``TypeAdapter(list[Comment])`` and validates the body.  In pydantic-core
2.14.5 the validator built for a recursive model keeps its definitions in
``Arc<OnceLock<...>>`` slots that point back at themselves, a Rust-level
reference cycle that nothing can free, so every TypeAdapter -- the whole
compiled validator and serializer tree for the recursive model -- leaks,
once per request.

Run: ``python app.py --port PORT`` (listens on 127.0.0.1, ``GET /health``).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pydantic import BaseModel, TypeAdapter, ValidationError


class Author(BaseModel):
    id: int
    handle: str
    display_name: str | None = None


class Comment(BaseModel):
    id: int
    author: Author
    body: str
    created_at: datetime
    score: int = 0
    replies: list[Comment] = []


def parse_as(tp, raw: bytes):
    """Drop-in replacement for pydantic v1's parse_raw_as()."""
    return TypeAdapter(tp).validate_json(raw)


def count_tree(comments):
    n, depth = 0, 0
    for c in comments:
        sub_n, sub_d = count_tree(c.replies)
        n += 1 + sub_n
        depth = max(depth, 1 + sub_d)
    return n, depth


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
        if self.path != "/threads/import":
            self._send(404, {"error": "not found"})
            return
        try:
            comments = parse_as(list[Comment], body)
        except ValidationError as exc:
            self._send(422, {"error": exc.errors(include_url=False)})
            return
        total, depth = count_tree(comments)
        self._send(200, {"imported": total, "top_level": len(comments), "max_depth": depth})


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
