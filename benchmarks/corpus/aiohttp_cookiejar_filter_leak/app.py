"""Backend-for-frontend (API gateway) in aiohttp reproducing aiohttp issue #11052.

https://github.com/aio-libs/aiohttp/issues/11052 "Possible memory leak in the CookieJar",
fixed by https://github.com/aio-libs/aiohttp/pull/11054 (aiohttp 3.12.3).

``GET /api/users/{user_id}/overview`` fans out to two upstream calls through one shared
``aiohttp.ClientSession``: ``/v1/users/{user_id}/profile`` and
``/v1/users/{user_id}/orders/recent`` on an internal "accounts" service.  The upstream sets
a load-balancer stickiness cookie (``Set-Cookie: lb_node=...; Path=/``) as real load
balancers do, so the session's CookieJar is not empty.

From aiohttp 3.10.0 to 3.12.2, ``CookieJar.filter_cookies()`` (called for every outgoing
request) looks up ``self._cookies[(domain, path_prefix)]`` for every prefix of the request
path; ``_cookies`` is a ``defaultdict(SimpleCookie)``, so each lookup of an unseen prefix
inserts a new empty SimpleCookie that is never removed.  With a user id in the path every
request adds new ``(host, "/v1/users/<id>")``, ``(host, "/v1/users/<id>/profile")``, ...
entries: unbounded growth.  3.12.3 skips prefixes that are not in the jar.

The upstream service runs in the same process on an ephemeral 127.0.0.1 port, so the case
is self-contained.  Run: python app.py --port 8080
"""

import argparse
import asyncio
import signal

from aiohttp import ClientSession, ClientTimeout, CookieJar, TCPConnector, web

# ---------------------------------------------------------------- upstream "accounts" service


async def upstream_profile(request: web.Request) -> web.Response:
    uid = request.match_info["user_id"]
    resp = web.json_response({"id": uid, "name": "Ada Lovelace", "plan": "pro", "locale": "en-GB"})
    resp.set_cookie("lb_node", "accounts-3", path="/", httponly=True)
    return resp


async def upstream_orders(request: web.Request) -> web.Response:
    uid = request.match_info["user_id"]
    orders = [
        {"order_id": f"{uid[:8]}-{n}", "total": 19.5 + n, "status": "shipped"} for n in range(5)
    ]
    resp = web.json_response({"user": uid, "orders": orders})
    resp.set_cookie("lb_node", "accounts-3", path="/", httponly=True)
    return resp


def make_upstream() -> web.Application:
    app = web.Application()
    app.router.add_get("/v1/users/{user_id}/profile", upstream_profile)
    app.router.add_get("/v1/users/{user_id}/orders/recent", upstream_orders)
    return app


# ---------------------------------------------------------------- public gateway


async def health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def overview(request: web.Request) -> web.Response:
    uid = request.match_info["user_id"]
    session: ClientSession = request.app["session"]
    base = request.app["upstream_base"]
    async with session.get(f"{base}/v1/users/{uid}/profile") as r1:
        profile = await r1.json()
    async with session.get(f"{base}/v1/users/{uid}/orders/recent") as r2:
        orders = await r2.json()
    return web.json_response({"profile": profile, "recent_orders": orders["orders"]})


async def serve(port: int) -> None:
    upstream_runner = web.AppRunner(make_upstream(), access_log=None)
    await upstream_runner.setup()
    upstream_site = web.TCPSite(upstream_runner, "127.0.0.1", 0)
    await upstream_site.start()
    upstream_port = upstream_runner.addresses[0][1]

    app = web.Application()
    app["upstream_base"] = f"http://127.0.0.1:{upstream_port}"
    # unsafe=True: accept cookies from IP-addressed internal services (aiohttp docs).
    app["session"] = ClientSession(
        cookie_jar=CookieJar(unsafe=True),
        connector=TCPConnector(limit=32),
        timeout=ClientTimeout(total=10),
    )
    app.router.add_get("/health", health)
    app.router.add_get("/api/users/{user_id}/overview", overview)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await app["session"].close()
        await runner.cleanup()
        await upstream_runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description="aiohttp gateway (issue #11052 reproducer)")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
