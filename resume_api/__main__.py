"""``python -m resume_api --host 127.0.0.1 --port 8000``: one uvicorn worker, as deployed."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from resume_api.config import Settings, SettingsError
from resume_api.leaks import LeakSpecError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resume_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except (SettingsError, LeakSpecError) as exc:
        print(f"resume_api: {exc}", file=sys.stderr)
        return 2
    from resume_api.app import create_app

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        workers=1,
        log_level=args.log_level,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
