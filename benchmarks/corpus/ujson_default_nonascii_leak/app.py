"""Order-audit service that reproduces ultrajson/ultrajson#631.

Issue: https://github.com/ultrajson/ultrajson/issues/631 ("Serious and weird
memory leak when dumping dictionary containing python object and non-English
character"), fixed by https://github.com/ultrajson/ultrajson/pull/714 in
ujson 5.12.1 ("Fix encoding ref leak with non-English character").

The service accepts an order as JSON (``POST /orders``), wraps its line items
in small domain objects and writes a structured audit record with
``ujson.dumps(record, ensure_ascii=True, default=repr)`` -- the usual
structlog-style fallback for objects JSON does not know.  The line items carry
non-ASCII product names, so ``default`` returns non-ASCII ``str`` objects.
In ujson <= 5.12.0 the encoder overwrote its reference to each such string
with the temporary UTF-8 buffer without a ``Py_DECREF``, so every string
returned by ``default`` is leaked: one per line item, per request.

Run: ``python app.py --port PORT`` (listens on 127.0.0.1, ``GET /health``).
"""

import argparse
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import ujson


class LineItem:
    __slots__ = ("name", "qty", "sku", "unit_price")

    def __init__(self, sku, name, qty, unit_price):
        self.sku = sku
        self.name = name
        self.qty = qty
        self.unit_price = unit_price

    def __repr__(self):
        return (
            f"LineItem(sku={self.sku}, name={self.name}, qty={self.qty}, "
            f"unit_price={self.unit_price})"
        )


class Customer:
    __slots__ = ("city", "id", "name")

    def __init__(self, id, name, city):
        self.id = id
        self.name = name
        self.city = city

    def __repr__(self):
        return f"Customer(id={self.id}, name={self.name}, city={self.city})"


AUDIT_LOG = []  # bounded ring of the last audit lines, like an in-memory log handler
AUDIT_LOCK = threading.Lock()
_stats = {"orders": 0, "total": 0.0}


def audit(record):
    line = ujson.dumps(record, ensure_ascii=True, default=repr)
    with AUDIT_LOCK:
        AUDIT_LOG.append(line)
        del AUDIT_LOG[:-50]
    return line


def handle_order(body: bytes):
    order = ujson.loads(body)
    cust = order["customer"]
    customer = Customer(cust["id"], cust["name"], cust.get("city", ""))
    items = [
        LineItem(i["sku"], i["name"], int(i["qty"]), float(i["unit_price"])) for i in order["items"]
    ]
    total = round(sum(i.qty * i.unit_price for i in items), 2)
    audit(
        {
            "event": "order.accepted",
            "order_id": order["order_id"],
            "customer": customer,
            "items": items,
            "total": total,
        }
    )
    with AUDIT_LOCK:
        _stats["orders"] += 1
        _stats["total"] += total
    return {
        "order_id": order["order_id"],
        "status": "accepted",
        "items": len(items),
        "total": total,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _send(self, code, payload):
        data = ujson.dumps(payload).encode()
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
        if self.path != "/orders":
            self._send(404, {"error": "not found"})
            return
        try:
            result = handle_order(body)
        except (ValueError, KeyError, TypeError) as exc:
            self._send(400, {"error": str(exc)})
            return
        self._send(200, result)


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
