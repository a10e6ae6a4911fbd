"""Azurite, the Azure Storage emulator (blob service only), as a child process on loopback.

Installed from npm into the user's cache by `ensure_azurite.sh` (package data, run here when
it is missing; `python -m harness.upstream.azurite` does it ahead of time): an installed harness
has no source tree to keep it in. The data lives in a temporary directory removed at stop.
Azurite's well-known development account is the only one it accepts, so its key is no secret."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.upstream.child import ListeningChild, StubStartError

INSTALL_SCRIPT = Path(__file__).with_name("ensure_azurite.sh")  # package data
_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
#: where npm installs it: the user's cache, shared by every checkout and installed harness
PREFIX = _CACHE / "leak-harness" / "azurite"
LOCAL_BIN = PREFIX / "node_modules" / ".bin" / "azurite-blob"

ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
# Azure Storage keeps an idle connection for minutes (the load balancer's idle timeout is
# 4 minutes); Azurite's default of 5 s would close a leaked client's socket under our feet.
KEEP_ALIVE_S = 240
_LISTENING = re.compile(r"listens on (http://\S+)")


class AzuriteStartError(StubStartError):
    """Azurite could not be installed or did not come up; the message says what to do."""


def find_azurite(install: bool = True) -> Path:
    """`azurite-blob`: $AZURITE_BLOB, the user's cache (PREFIX), PATH, else install it."""
    override = os.environ.get("AZURITE_BLOB")
    if override:
        if not os.access(override, os.X_OK):
            raise AzuriteStartError(f"AZURITE_BLOB={override} is not an executable file")
        return Path(override)
    if LOCAL_BIN.exists():
        return LOCAL_BIN
    on_path = shutil.which("azurite-blob")
    if on_path:
        return Path(on_path)
    if not install:
        raise AzuriteStartError("azurite-blob not found: run python -m harness.upstream.azurite")
    done = subprocess.run(
        ["bash", str(INSTALL_SCRIPT), str(PREFIX)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0 or not LOCAL_BIN.exists():
        raise AzuriteStartError(
            "Azurite (the blob storage upstream) is not installed and could not be:\n"
            + done.stderr.strip()[-2000:]
        )
    return LOCAL_BIN


def connection_string(blob_url: str) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={blob_url}/{ACCOUNT};"
    )


class AzuriteProcess(ListeningChild):
    """`azurite-blob` on a free loopback port; `url` is the blob endpoint, `api_key` the
    connection string the service is given (the harness's `{upstream.azurite.key}`)."""

    what = "Azurite"

    def __init__(self, location: Path | None = None, timeout_s: float = 30.0) -> None:
        self.location = location or Path(tempfile.mkdtemp(prefix="leak-harness-azurite-"))
        self.location.mkdir(parents=True, exist_ok=True)
        command = [
            str(find_azurite()),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            "0",
            "--location",
            str(self.location),
            "--blobKeepAliveTimeout",
            str(KEEP_ALIVE_S),
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
            "--silent",
        ]
        # node's npm shim execs node itself, so the pid is Azurite's own process
        super().__init__(command, timeout_s)
        self.api_key = connection_string(self.url)

    def url_in(self, line: str) -> str | None:
        match = _LISTENING.search(line)
        return match.group(1).rstrip("/") if match else None

    def start_error(self, message: str) -> Exception:
        return AzuriteStartError(message)

    def stop(self, timeout_s: float = 5.0) -> None:
        super().stop(timeout_s)
        # the blobs are the load's, disposable; a harness killed before this leaves them in
        # the directory it was given (the run directory), not in /tmp
        shutil.rmtree(self.location, ignore_errors=True)


if __name__ == "__main__":  # install ahead of a run (scripts/ensure_system.sh); prints the path
    try:
        print(find_azurite())
    except AzuriteStartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
