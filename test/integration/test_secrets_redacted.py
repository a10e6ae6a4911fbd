"""No planted secret survives a real run: secrets are put everywhere a user can put them (the
target's env, its command line, its upstreams' options, its health path, docker build args,
the scenario's description, the harness's own environment, which a process target inherits),
the target prints them all to its log, and after `leak-harness run` and `leak-harness analyze`
every file under the output directory (binary ones too, as bytes: heap snapshots, plots, the
history database) is searched for each. A target that prints them and dies during boot
(its log's tail is embedded in run.json's error) is the second run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.runs import ROOT, sandbox_backend
from support.scenarios import TINY

#: the harness's own environment: inherited by a process target, which prints it
HARNESS_ENV = {"PLANTED_API_TOKEN": "harness-env-planted-1"}
#: the upstream fake's key, given on its command line and to the target
STUB_KEY = "stub-key-planted-2"
SECRETS = [
    "sk-live-planted-3",  # the target's --api-key
    "pw-planted-4",  # DATABASE_URL's password
    "db-pass-planted-5",  # DB_PASS
    "tok-planted-6",  # AUTHORIZATION = "Bearer ..."
    "sig-planted-7",  # STORAGE_SAS_URL's sig=
    "acctkey-planted-8",  # a connection string's AccountKey= under a harmless name
    "health-planted-9",  # the health path's ?token=
    "buildarg-planted-10",  # a docker build arg's URL credentials
    "desc-planted-11",  # the scenario description's URL credentials
    STUB_KEY,
    *HARNESS_ENV.values(),
]

#: the bundled service behind a wrapper that takes (and prints) what the user passed
WRAPPER = """
import os, runpy, sys
args = sys.argv[1:]
at = args.index("--api-key")
key = args[at + 1]
del args[at : at + 2]
env = os.environ
print("booting with", key, "and", env["DB_PASS"], "at", env["DATABASE_URL"], flush=True)
print("Authorization:", env["AUTHORIZATION"], "bare:", env["AUTHORIZATION"].split()[1])
print("sas", env["STORAGE_SAS_URL"], "blob", env["BLOB_SETTINGS"], "llm", env["LLM_KEY"])
print("inherited", env.get("PLANTED_API_TOKEN"), flush=True)
print("pw-planted-4")  # a secret in the command's own text: masked there as a known value
if env.get("FAIL_BOOT"):
    sys.exit(3)
sys.argv = ["resume_api", *args]
runpy.run_module("resume_api", run_name="__main__", alter_sys=True)
"""

CONFIG = """
[target]
command = ["{python}", "-c", '''%s''', "--port", "{port}", "--api-key", "sk-live-planted-3"]
health_path = "/health?token=health-planted-9"
startup_timeout_s = 30
alert_rules = "%s"
build_args = { PIP_INDEX_URL = "https://pip:buildarg-planted-10@pypi.invalid/simple" }

[target.env]
AZURE_OPENAI_ENDPOINT = "{upstream.azure-openai}"
AZURE_OPENAI_API_KEY = "%s"
LLM_KEY = "{upstream.azure-openai.key}"
PYTHONUNBUFFERED = "1"
MEMORY_ENDPOINTS_ENABLED = "true"
DATABASE_URL = "postgres://u:pw-planted-4@localhost/db"
DB_PASS = "db-pass-planted-5"
AUTHORIZATION = "Bearer tok-planted-6"
STORAGE_SAS_URL = "https://x.blob.core.windows.net/c?sv=1&sig=sig-planted-7"
BLOB_SETTINGS = "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=acctkey-planted-8;"
%s

[[target.upstreams]]
kind = "azure-openai"
args = ["--api-key", "%s"]
"""


def _config(path: Path, fail_boot: bool) -> Path:
    alert_rules = ROOT / "resume_api" / "alert_rules.yml"
    extra = 'FAIL_BOOT = "1"' if fail_boot else ""
    path.write_text(CONFIG % (WRAPPER, alert_rules, STUB_KEY, extra, STUB_KEY))
    return path


def _scenario(path: Path) -> Path:
    text = TINY.format(duration=3).replace(
        'description = "test: a few seconds of each phase"',
        'description = "see https://bob:desc-planted-11@wiki.invalid/runbook"',
    )
    path.write_text(text)
    return path


def _harness(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **HARNESS_ENV},
    )


def _found(out: Path) -> list[str]:
    """'file: secret' for every planted secret in any file under `out`, read as bytes."""
    found = []
    for path in sorted(out.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path.relative_to(out)}: {s}" for s in SECRETS if s.encode() in data]
    return found


def _run(tmp_path: Path, fail_boot: bool) -> subprocess.CompletedProcess[str]:
    """`leak-harness run` of the tiny scenario into tmp_path/out."""
    config = _config(tmp_path / "leak-harness.toml", fail_boot)
    scenario = _scenario(tmp_path / "tiny.toml")
    return _harness(
        "run",
        "--scenario",
        str(scenario),
        "--config",
        str(config),
        "--backend",
        sandbox_backend(),
        "--out",
        str(tmp_path / "out"),
        "--quiet",
        "--json",
    )


def test_no_planted_secret_is_left_in_a_completed_run(tmp_path: Path) -> None:
    done = _run(tmp_path, fail_boot=False)
    assert done.returncode == 0, done.stderr
    run_dir = Path(json.loads(done.stdout.strip().splitlines()[-1])["run_dir"])
    judged = _harness("analyze", str(run_dir), "--json")
    assert judged.returncode in (0, 1, 4), judged.stderr  # a verdict, whichever
    for report in ("verdict.json", "report.html", "summary.md", "junit.xml", "target.log"):
        assert (run_dir / report).is_file(), report
    log = (run_dir / "target.log").read_text()
    assert "booting with *** and ***" in log, log[:2000]  # the target did print them
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["outcome"]["status"] == "completed"
    assert "target.log" in meta["redaction"]["scrubbed"]
    assert meta["target"]["env"]["DATABASE_URL"] == "postgres://***@localhost/db"
    assert meta["target"]["env"]["LLM_KEY"] == "{upstream.azure-openai.key}"  # a reference
    assert _found(tmp_path / "out") == []


@pytest.fixture(scope="module")
def failed_boot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A run whose target prints the secrets and exits during boot: (output dir, what the
    harness printed)."""
    tmp_path = tmp_path_factory.mktemp("boot-failure")
    done = _run(tmp_path, fail_boot=True)
    assert done.returncode == 3, done.stderr
    run_dir = Path(json.loads(done.stdout.strip().splitlines()[-1])["run_dir"])
    _harness("analyze", str(run_dir), "--json")  # whatever it makes of a run without load
    return tmp_path / "out", done.stdout + done.stderr


def test_no_planted_secret_is_left_when_the_target_dies_during_boot(
    failed_boot: tuple[Path, str],
) -> None:
    out, _ = failed_boot
    meta = json.loads((out / "latest" / "run.json").read_text())
    assert meta["outcome"]["status"] == "error"
    error = meta["outcome"]["error"]
    assert "target.log (tail)" in error and "booting with *** and ***" in error, error
    assert _found(out) == []


def test_the_harness_output_shows_no_planted_secret(failed_boot: tuple[Path, str]) -> None:
    _, printed = failed_boot
    assert [secret for secret in SECRETS if secret in printed] == []
