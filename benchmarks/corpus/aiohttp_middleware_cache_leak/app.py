"""Single-page-app style aiohttp service reproducing aiohttp CVE-2024-52303 / GHSA-27mf-ghqm-j3j8.

aiohttp 3.10.6 - 3.10.10 memoised ``_build_middlewares(handler, apps)`` with an
unbounded ``functools.lru_cache(None)``.  When a request does not match any route,
the router returns a ``MatchInfoError`` whose handler belongs to a brand-new
``SystemRoute`` object, so every such request adds one more cache entry that is
never evicted.  The entry keeps the SystemRoute, its ``HTTPNotFound`` exception
and (because the exception was raised and caught in a middleware) its traceback
with the frames of the request, i.e. the whole request object.

Any middleware triggers it.  Here a very common one does: an SPA fallback that
turns 404s for client-side routes (``/app/...``) into the ``index.html`` page.
Fixed in aiohttp 3.10.11 (https://github.com/aio-libs/aiohttp/pull/9852), which
no longer caches middleware chains for system routes and bounds the cache.

Run: python app.py --port 8080
"""

import argparse
import sys

from aiohttp import web

INDEX_HTML = (
    "<!doctype html><html><head><title>Dashboard</title>"
    "<script src='/static/app.js'></script></head>"
    "<body><div id='root'></div></body></html>"
)


@web.middleware
async def spa_fallback(request: web.Request, handler):
    """Serve index.html for unknown client-side routes (history-API routing)."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        if request.method == "GET" and request.path.startswith("/app/"):
            return web.Response(text=INDEX_HTML, content_type="text/html")
        raise


async def health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def echo(request: web.Request) -> web.Response:
    data = await request.json()
    return web.json_response({"received": len(data.get("text", ""))})


def make_app() -> web.Application:
    app = web.Application(middlewares=[spa_fallback])
    app.router.add_get("/health", health)
    app.router.add_post("/api/echo", echo)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()

    # run_app installs SIGINT/SIGTERM handlers that shut the server down gracefully.
    web.run_app(
        make_app(),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
        handle_signals=True,
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
