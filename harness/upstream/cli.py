"""`leak-harness stub azure-openai`: serve the fake Azure OpenAI until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from harness.upstream.config import DEFAULT_API_KEY, StubConfig, StubConfigError

LISTENING = "fake-azure-openai listening on"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: pick a free one)")
    parser.add_argument(
        "--api-key",
        default=None,
        help=f"api-key header value (default: $FAKE_AZURE_OPENAI_API_KEY or {DEFAULT_API_KEY})",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="fixed latency per call")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="uniform extra latency 0..N")
    parser.add_argument(
        "--embedding-latency-ms",
        type=float,
        default=None,
        help="latency of embeddings (default: --latency-ms)",
    )
    parser.add_argument(
        "--error-429-rate",
        type=float,
        default=0.0,
        help="share of calls answered 429 with Retry-After",
    )
    parser.add_argument(
        "--error-500-rate", type=float, default=0.0, help="share of calls answered 500"
    )
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds on 429")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of latency jitter and injected errors"
    )
    parser.add_argument(
        "--fixtures", type=Path, default=None, help="JSON or TOML file of override rules"
    )
    parser.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"]
    )


def config_from_args(args: argparse.Namespace) -> StubConfig:
    defaults = StubConfig()
    config = StubConfig(
        host=args.host,
        port=args.port,
        api_key=args.api_key if args.api_key is not None else defaults.api_key,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        embedding_latency_ms=args.embedding_latency_ms,
        error_429_rate=args.error_429_rate,
        error_500_rate=args.error_500_rate,
        retry_after_s=args.retry_after,
        seed=args.seed,
        fixtures=args.fixtures,
    )
    config.validate()
    return config


def main(args: argparse.Namespace) -> int:
    import uvicorn

    from harness.upstream.app import create_app

    try:
        config = config_from_args(args)
        app = create_app(config)
    except StubConfigError as exc:
        print(f"leak-harness stub azure-openai: {exc}", file=sys.stderr)
        return 2
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        print(
            f"leak-harness stub azure-openai: cannot bind {config.host}:{config.port}: "
            f"{exc.strerror}",
            file=sys.stderr,
        )
        return 3
    sock.listen(2048)  # before announcing the URL, so a client never finds it refusing
    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level=args.log_level, access_log=False, timeout_keep_alive=30)
    )
    print(f"{LISTENING} http://{host}:{port}", flush=True)
    server.run(sockets=[sock])
    return 0
