"""Azurite, the Azure Storage emulator (blob service only), as a child process on loopback.

Installed from npm into the project's `.azurite/` by `scripts/ensure_azurite.sh` (called here
when it is missing); the data lives in a temporary directory removed at stop. Azurite's
well-known development account is the only one it accepts, so its key is no secret."""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from harness.lifetime import die_with_parent
from harness.upstream.process import StubStartError

ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = ROOT / "scripts" / "ensure_azurite.sh"
LOCAL_BIN = ROOT / ".azurite" / "node_modules" / ".bin" / "azurite-blob"

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
    """`azurite-blob`: $AZURITE_BLOB, the project's .azurite/, PATH, else install it."""
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
        raise AzuriteStartError("azurite-blob not found: run scripts/ensure_azurite.sh")
    done = subprocess.run(
        [str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=600, check=False
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


class AzuriteProcess:
    """`azurite-blob` on a free loopback port; `url` is the blob endpoint, `api_key` the
    connection string the service is given (the harness's `{upstream.azurite.key}`)."""

    def __init__(self, location: Path | None = None, timeout_s: float = 30.0) -> None:
        self._own_dir = location is None
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
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        self._output: deque[str] = deque(maxlen=200)
        self._drainer: threading.Thread | None = None
        self.url = self._read_url(timeout_s)
        self.api_key = connection_string(self.url)

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read_url(self, timeout_s: float) -> str:
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    break
                line = self.process.stdout.readline().decode(errors="replace")
                if not line:
                    break
                self._output.append(line.rstrip())
                match = _LISTENING.search(line)
                if match:
                    self._drainer = threading.Thread(target=self._drain, daemon=True)
                    self._drainer.start()
                    return match.group(1).rstrip("/")
        finally:
            selector.close()
        self.stop()
        raise AzuriteStartError("Azurite did not start:\n" + self.output_tail())

    def _drain(self) -> None:
        assert self.process.stdout is not None
        try:
            for raw in self.process.stdout:
                self._output.append(raw.decode(errors="replace").rstrip())
        except (OSError, ValueError):
            return

    def output_tail(self) -> str:
        return "\n".join(self._output)

    def stop(self, timeout_s: float = 5.0) -> None:
        # node's npm shim execs node itself, so the pid is Azurite's own process
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._drainer is not None:
            self._drainer.join(2.0)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self._own_dir:
            shutil.rmtree(self.location, ignore_errors=True)

    def __enter__(self) -> AzuriteProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
