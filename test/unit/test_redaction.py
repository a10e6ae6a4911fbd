"""Secret redaction: each rule both ways (a secret masked, its harmless look-alike untouched),
known values masked wherever they show up again, and the run directory's files scrubbed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.redaction import MASK, Redactor, redact, secret_name
from harness.rundir import RunDirectory


@pytest.mark.parametrize(
    "name",
    [
        "AZURE_OPENAI_API_KEY",
        "apiKey",
        "APIKey",
        "api-key",
        "DB_PASS",
        "db-pass",
        "dbPass",
        "DB_PWD",
        "DBPASSWORD",
        "password",
        "passwd",
        "AUTHORIZATION",
        "auth",
        "AUTH_TOKEN",
        "authtoken",
        "client_secret",
        "credentials",
        "AZURE_STORAGE_CONNECTION_STRING",
        "ConnectionString",
        "STORAGE_SAS_URL",
        "signature",
        "sig",
        "cookie",
        "Cookies",
        "private_key",
        "SESSION_TOKEN",
        "keys",
    ],
)
def test_secret_names(name: str) -> None:
    assert secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "max_tokens",
        "tokens_per_request",
        "TOKEN_LIMIT",
        "token_count",
        "bypass",
        "passes",
        "compass",
        "PWD",
        "OLDPWD",
        "author",
        "keyboard",
        "key_file",
        "AUTH_MODE",
        "password_min_length",
        "stop_signal",
        "leak_env",
        "health_path",
        "DATABASE_URL",
        "monkey",
        "",
    ],
)
def test_harmless_names(name: str) -> None:
    assert not secret_name(name)


def test_by_name_only_strings_are_masked() -> None:
    data = {"api_key": "abc", "token_budget": "100", "token": 42, "secret": True, "password": ""}
    assert redact(data) == {
        "api_key": MASK,
        "token_budget": "100",
        "token": 42,
        "secret": True,
        "password": "",
    }


def test_placeholders_are_references_not_secrets() -> None:
    env = {"AZURE_OPENAI_API_KEY": "{upstream.azure-openai.key}", "DB_PASS": "{x}{y}"}
    assert redact({"env": env}) == {"env": env}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgres://u:pw-secret@localhost/db", "postgres://***@localhost/db"),
        ("https://ghp-token-in-user@github.com/o/r", "https://***@github.com/o/r"),
        ("mongodb://a:p@ss@h:27017/x", "mongodb://***@h:27017/x"),
        (
            "https://x.blob.core.windows.net/c?sv=2022&sig=abc%2Fdef&se=1",
            "https://x.blob.core.windows.net/c?sv=2022&sig=***&se=1",
        ),
        (
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Eby8vdM02x==;Suffix=x",
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=***;Suffix=x",
        ),
        ("Endpoint=sb://h/;SharedAccessKeyName=Root;SharedAccessKey=k3y=", None),
        ("BlobEndpoint=https://h/;SharedAccessSignature=sv=1&sig=s1g", None),
        ("Server=h;User Id=sa;Password=hunter2;", "Server=h;User Id=sa;Password=***;"),
        ("Uid=sa;Pwd=hunter2;", "Uid=sa;Pwd=***;"),
        ("Authorization: Bearer tok-secret-1", "Authorization: Bearer ***"),
        ("authorization: Basic dXNlcjpwYXNz", "authorization: Basic ***"),
        ("Authorization: raw-secret-value", "Authorization: ***"),
        ("app --api-key sk-live-secret --port 80", "app --api-key *** --port 80"),
        ("app --api-key=abc123 --token 'q v'", "app --api-key=*** --token ***"),
        ("app --no-auth --password hunter2", "app --no-auth --password ***"),
        ("DB_PASS=hunter2 cfg", "DB_PASS=*** cfg"),
        ("{'api_key': 'abc', 'n': 1}", "{'api_key': '***', 'n': 1}"),
        ('{"client_secret": "abc"}', '{"client_secret": "***"}'),
        ("GET /x?token=abc123&page=2", "GET /x?token=***&page=2"),
        ("key sk-proj-abcdefgh12345 leaked", "key *** leaked"),
        ("gh ghp_abcdefghijklmnopqrstuvwxyz0123", "gh ***"),
        ("aws AKIAABCDEFGHIJKLMNOP", "aws ***"),
        ("jwt eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4", "jwt ***"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "***"),
    ],
)
def test_values_that_are_credentials_are_masked(text: str, expected: str | None) -> None:
    masked = Redactor().text(text)
    if expected is not None:
        assert masked == expected
    for secret in ("k3y=", "s1g", "hunter2", "pw-secret"):
        assert secret not in masked


@pytest.mark.parametrize(
    "text",
    [
        "http://127.0.0.1:8000/health",
        "http://127.0.0.1:8000/search?email=a@b.com",
        "GET /api/v1/resume 200 OK",
        "max_tokens=100 tokens_per_request: 512 token_limit=9",
        "basic usage of Basic Authentication",
        "the bearer of bad news",
        "risk-free task-queue sk-learn disk-usage",
        "PWD=/work/main OLDPWD=/tmp",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;BlobEndpoint=http://h/x;",
        "app --port 8000 --log-level info --no-auth",
        "bypass=1 passes=3 compass=north",
        "AZURE_OPENAI_API_KEY={upstream.azure-openai.key}",
        "12:30:05 INFO started",
        "key = args[at + 1]; token = get_token(); if key == other: pass",
    ],
)
def test_harmless_text_is_untouched(text: str) -> None:
    assert Redactor().text(text) == text


def test_a_command_list_masks_the_value_after_a_secret_option() -> None:
    command = ["{python}", "-m", "app", "--api-key", "sk-live", "--port", "{port}", "--x", "y"]
    assert redact({"command": command})["command"] == [
        "{python}",
        "-m",
        "app",
        "--api-key",
        MASK,
        "--port",
        "{port}",
        "--x",
        "y",
    ]
    assert redact(["--token=abcdef", "--auth", "--port", "1"]) == [
        "--token=***",
        "--auth",
        "--port",
        "1",
    ]


def test_known_values_are_masked_anywhere_later() -> None:
    redactor = Redactor()
    redactor.learn({"env": {"MY_API_KEY": "plain-value-1", "DATABASE_URL": "pg://u:pw-2222@h/d"}})
    assert redactor.text("boot: key is plain-value-1, pw pw-2222") == "boot: key is ***, pw ***"
    quoted = json.dumps({"msg": 'said "x\\plain-value-1"'})
    assert "plain-value-1" not in redactor.text(quoted)


def test_short_values_are_masked_in_place_but_not_hunted() -> None:
    redactor = Redactor()
    assert redactor.value({"DB_PASS": "abc"}) == {"DB_PASS": MASK}
    assert redactor.text("abc is everywhere: abcdef") == "abc is everywhere: abcdef"


def test_secrets_of_the_environment_are_known() -> None:
    redactor = Redactor()
    redactor.learn_environment({"OPENAI_API_KEY": "sk-env-value", "HOME": "/root", "PWD": "/w"})
    assert redactor.text("using sk-env-value at /root in /w") == "using *** at /root in /w"


def test_the_run_directory_redacts_run_json_events_and_the_files_others_wrote(
    tmp_path: Path,
) -> None:
    meta = {
        "target": {
            "command": ["app", "--api-key", "sk-live-planted1"],
            "env": {"DATABASE_URL": "postgres://u:pw-planted2@h/db", "DB_PASS": "db-planted3"},
        }
    }
    run = RunDirectory.create(tmp_path, "quick", meta)
    run.event("upstream-ready", url="https://u:pw-planted4@h", answer={"token": "tk-planted5"})
    (run.path / "target.log").write_text(
        "booting with db-planted3\npassword=log-planted6\nlater log-planted6 again\n"
    )
    (run.path / "upstream").mkdir()
    (run.path / "upstream" / "stub.log").write_text("key sk-live-planted1\n")
    (run.path / "heap" / "x.tracemalloc").write_bytes(b"\0db-planted3")
    untouched = run.path / "locust.log"
    untouched.write_text("nothing secret\n")
    before = untouched.stat().st_mtime_ns
    run.update(note="log-planted6 seen")
    run.finish("error", 3, error="boot failed:\n--- target.log (tail) ---\nlog-planted6")
    for path in run.path.rglob("*"):
        if path.is_file() and path.suffix != ".tracemalloc":
            text = path.read_text()
            for n in range(1, 7):
                assert "planted" + str(n) not in text, (path.name, text)
    assert untouched.stat().st_mtime_ns == before  # rewritten only where something changed
    saved = json.loads((run.path / "run.json").read_text())
    assert saved["redaction"] == {"scrubbed": ["events.jsonl", "target.log", "upstream/stub.log"]}
    assert saved["target"]["command"] == ["app", "--api-key", MASK]
    assert saved["target"]["env"]["DATABASE_URL"] == "postgres://***@h/db"
    assert "log-planted6" not in saved["outcome"]["error"]


def test_a_file_over_the_bound_is_named_not_scrubbed(tmp_path: Path) -> None:
    (tmp_path / "big.log").write_text("password=abcdefgh\n" * 100)
    (tmp_path / "small.log").write_text("password=abcdefgh\n")
    result = Redactor().scrub_tree(tmp_path, (), max_bytes=1000)
    assert result["scrubbed"] == ["small.log"]
    assert result["skipped"][0].startswith("big.log: not scrubbed")
    assert (tmp_path / "small.log").read_text() == "password=***\n"
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_a_secret_seen_late_is_masked_earlier_and_in_other_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("harness.redaction.CHUNK_BYTES", 64)  # many chunks per file
    key = "-----BEGIN PRIVATE KEY-----\n" + "MIIEvQIBADANBgkqhkiG9w0B\n" * 8
    (tmp_path / "a.log").write_text("early: late-secret-1\n" * 5 + "password=late-secret-1\n")
    (tmp_path / "b.log").write_text(f"x\n{key}-----END PRIVATE KEY-----\nafter late-secret-1\n")
    result = Redactor().scrub_tree(tmp_path, (), max_bytes=1 << 20)
    assert result == {"scrubbed": ["a.log", "b.log"]}
    assert (tmp_path / "a.log").read_text() == "early: ***\n" * 5 + "password=***\n"
    assert (tmp_path / "b.log").read_text() == "x\n***\nafter ***\n"
