"""Secrets kept out of what a run leaves behind: by name, by value, and by having been seen.

A run directory is shared (attached to a ticket, uploaded by CI), so whatever the user
configured or the target printed must not carry a credential along. Three rules, each needed:

- by name: a string under a secret-looking name (`DB_PASS`, `apiKey`, `AUTHORIZATION`) is
  masked whole; a name is split into words, so `max_tokens`, `bypass` or `passes` stay;
- by value: a string is masked where it looks like a credential wherever it is found (a URL's
  `user:pw@`, `AccountKey=` or `sig=` of a connection string or SAS URL, `Bearer xyz`,
  `--api-key VALUE`, `password=x` in text, `sk-...` and other well-known token shapes);
- by having been seen: a `Redactor` remembers every secret it masked and masks that exact value
  anywhere later (a log line, an error message), however it is written there.

The mask is `***`. Only strings are masked: numbers and booleans under any name stay."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any

MASK = "***"
#: a value shorter than this is masked where it is found, but not hunted for elsewhere: it
#: would match ordinary text (`1`, `true`, `test`)
MIN_KNOWN = 6
#: how much of a file is masked at once when it is scrubbed
CHUNK_BYTES = 1 << 20

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SECRET_WORDS = frozenset(
    str.split(
        "key keys apikey secret secrets token password passwords passwd passphrase pass pwd auth "
        "authorization credential credentials creds sas signature sig cookie cookies private "
        "privatekey accountkey accesskey secretkey connectionstring connstr"
    )
)
#: a single word ending so is a secret name (`authtoken`, `dbpassword`); not `pass` alone,
#: which would take `bypass` and `compass` along
_SECRET_ENDINGS = ("password", "passwd", "apikey", "secret", "token", "accountkey", "accesskey")
#: a last word that makes the name about a secret, not the secret (`token_limit`, `key_file`)
_HARMLESS_LAST = frozenset(
    str.split(
        "count counts limit limits max min size length len ttl timeout type kind mode method "
        "scheme name names enabled disabled required path file dir env var field policy version "
        "algorithm budget rate header provider backend strategy issuer audience"
    )
)
#: names that only look secret: the shell's working directories
_NOT_SECRET = frozenset({"pwd", "oldpwd"})
#: a value that is only `{placeholder}`s (the harness fills them): a reference, not a secret
_PLACEHOLDER = re.compile(r"(\{[\w.-]+\})+")


def secret_name(name: str) -> bool:
    """Does `name` (a key, an environment variable, an option) name a secret?"""
    if name.lower() in _NOT_SECRET:
        return False
    words = [word.lower() for word in _WORDS.findall(name)]
    if not words or words[-1] in _HARMLESS_LAST:
        return False
    if any(a == "connection" and b == "string" for a, b in pairwise(words)):
        return True
    return any(word in _SECRET_WORDS or word.endswith(_SECRET_ENDINGS) for word in words)


_Q = "\"'<>`"  # quotes and brackets end a value found in text
#: `scheme://userinfo@`: the userinfo up to the last `@` before the host
_URL_USERINFO = re.compile(rf"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^\s/?#{_Q}]+)@")
#: `Name=value` fields of connection strings, query strings and SAS URLs
_FIELD = re.compile(
    r"(?i)(?<![\w-])(?P<name>account[_-]?key|shared[_-]?access[_-]?key|password|passwd|(?<=;)pwd|"
    r"shared[_-]?access[_-]?signature|sig|signature|client[_-]?secret|api[_-]?key|"
    rf"access[_-]?token|secret)(?P<sep>=)(?P<value>[^;&\s{_Q}]+)"
)
_BEARER = re.compile(r"(?i)\b(?P<scheme>bearer)(?P<sep>\s+)(?P<value>[\w.~+/=-]{6,})")
_BASIC = re.compile(r"(?i)\b(?P<scheme>basic)(?P<sep>\s+)(?P<value>[A-Za-z0-9+/]{6,}={0,2})")
#: `--api-key VALUE`, `--api-key=VALUE`, `-p "VALUE"`
_OPTION = re.compile(
    rf"(?P<name>(?<![\w-])--?[A-Za-z][\w-]*)(?P<sep>=|[ \t]+)"
    rf"(?P<value>\"[^\"]*\"|'[^']*'|[^\s{_Q}-][^\s{_Q}]*)"
)
#: `password=x`, `"api_key": "x"`, `DB_PASS: x` in free text; not code (`key = args[1]`,
#: `token = get()`, `key == x`)
_ASSIGNMENT = re.compile(
    rf"(?P<name>(?<![\w.-])[A-Za-z_][\w.-]*)(?P<sep>[{_Q}]?[ \t]*[:=][ \t]*[{_Q}]?)"
    rf"(?P<value>(?!=)[^\s,;&(){{}}\[\]{_Q}]++)(?![\[(])"
)
#: well-known token shapes: OpenAI/Stripe, GitHub, Slack, AWS, Google, JWT
_TOKEN = re.compile(
    r"\b(?:sk|rk)[-_][A-Za-z0-9_-]{8,}|\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_\w{20,}"
    r"|\bxox[abprs]-[\w-]{10,}|\bAKIA[0-9A-Z]{16}\b|\bAIza[\w-]{30,}"
    r"|\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}"
)
_KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S
)
_SCHEME_WORDS = frozenset({"bearer", "basic", "token", "digest"})
#: what each rule needs in the (lower-cased) text before it is run: a quick `in` spares a long
#: log most of the regular expressions
_STEMS = ("key", "secret", "token", "pass", "pwd", "auth", "cred", "sas", "sig", "cookie")
_NAME_STEMS = (*_STEMS, "private", "conn")
_TOKEN_STEMS: tuple[str, ...] = ("sk-", "sk_", "rk-", "rk_", "xox", "akia", "aiza", "eyj")
_TOKEN_STEMS += ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat")
#: files known to be binary by their name (heap snapshots, a memray capture, plots)
_BINARY_SUFFIXES = frozenset({".tracemalloc", ".bin", ".png", ".jpg", ".gz", ".zip"})


def _has(text: str, stems: tuple[str, ...]) -> bool:
    return any(stem in text for stem in stems)


def _basic_credentials(value: str) -> bool:
    """`Basic dXNlcjpwYXNz`, not `basic usage`: base64 has digits, `+/=`, or mixed case."""
    rest = value[1:]
    return bool(re.search(r"[0-9+/=]", value)) or (rest != rest.lower() and rest != rest.upper())


class Redactor:
    """Masks secrets and remembers them: `learn` what a structure holds, then `value` (a
    structure) or `text` (a string) come back masked, known values included."""

    def __init__(self) -> None:
        self._known: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    @property
    def known(self) -> frozenset[str]:
        return frozenset(self._known)

    def remember(self, secret: str) -> None:
        """Mask `secret` wherever it appears from now on (also as JSON writes it)."""
        secret = secret.strip().strip("\"'")
        if len(secret) < MIN_KNOWN or MASK in secret or _PLACEHOLDER.fullmatch(secret):
            return
        for form in (secret, json.dumps(secret)[1:-1]):
            if form not in self._known:
                self._known.add(form)
                self._pattern = None

    def learn(self, obj: Any) -> None:
        """Remember the secrets in `obj` (by name and by value) without masking it."""
        self.value(obj)

    def learn_environment(self, environ: Mapping[str, str] = os.environ) -> None:
        """Remember the secret-named variables of the harness's environment: a target process
        inherits it, and may print them."""
        for name, text in environ.items():
            if secret_name(name):
                self.remember(text)

    def value(self, obj: Any, name: str = "") -> Any:
        """`obj` (JSON-like) with secrets masked: a string under a secret name whole, other
        strings where they hold a credential; a command line's secret options' values."""
        if isinstance(obj, Mapping):
            return {key: self.value(item, str(key)) for key, item in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.value(item, name) for item in self._arguments(obj)]
        if isinstance(obj, str) and obj and secret_name(name) and not _PLACEHOLDER.fullmatch(obj):
            self.text(obj)  # its parts too: `Bearer xyz` may show up as `xyz` alone
            self.remember(obj)
            return MASK
        if isinstance(obj, str):
            return self.text(obj)
        return obj

    def _arguments(self, items: Iterable[Any]) -> list[Any]:
        """A list as a command line: the item after `--api-key` (a secret option) is masked."""
        out: list[Any] = []
        for item in items:
            previous = out[-1] if out else None
            if (
                isinstance(item, str)
                and isinstance(previous, str)
                and previous.startswith("-")
                and "=" not in previous
                and not item.startswith("-")
                and secret_name(previous.lstrip("-"))
                and not _PLACEHOLDER.fullmatch(item)
            ):
                self.remember(item)
                item = MASK
            out.append(item)
        return out

    def text(self, text: str) -> str:
        """`text` with every credential it shows masked, and every known secret."""
        if not text:
            return text
        lower = text.lower()  # masking only removes: what it does not find stays absent
        if "private key" in lower:
            text = _KEY_BLOCK.sub(self._whole, text)
        if "@" in text:
            text = _URL_USERINFO.sub(self._userinfo, text)
        if _has(lower, _STEMS):
            text = _FIELD.sub(self._masked, text)
        if "bearer" in lower:
            text = _BEARER.sub(self._masked, text)
        if "basic" in lower:
            text = _BASIC.sub(
                lambda m: self._masked(m) if _basic_credentials(m["value"]) else m[0], text
            )
        if _has(lower, _NAME_STEMS):
            text = _OPTION.sub(self._named, text)
            text = _ASSIGNMENT.sub(self._named, text)
        if _has(lower, _TOKEN_STEMS):
            text = _TOKEN.sub(self._whole, text)
        return self._known_values(text)
        text = _KEY_BLOCK.sub(self._whole, text)
        text = _URL_USERINFO.sub(self._userinfo, text)
        for pattern in (_FIELD, _BEARER):
            text = pattern.sub(self._masked, text)
        text = _BASIC.sub(
            lambda m: self._masked(m) if _basic_credentials(m["value"]) else m[0], text
        )
        for pattern in (_OPTION, _ASSIGNMENT):
            text = pattern.sub(self._named, text)
        text = _TOKEN.sub(self._whole, text)
        return self._known_values(text)

    def _whole(self, match: re.Match[str]) -> str:
        self.remember(match[0])
        return MASK

    def _userinfo(self, match: re.Match[str]) -> str:
        user, _, password = match["user"].partition(":")
        self.remember(password or user)
        return f"{match['scheme']}{MASK}@"

    def _masked(self, match: re.Match[str]) -> str:
        self.remember(match["value"])
        return f"{match[0][: match.start('value') - match.start()]}{MASK}"

    def _named(self, match: re.Match[str]) -> str:
        value = match["value"]
        if (
            not secret_name(match["name"].lstrip("-"))
            or value.startswith("-")
            or MASK in value
            or value.lower() in _SCHEME_WORDS
            or _PLACEHOLDER.fullmatch(value.strip("\"'"))
        ):
            return match[0]
        return self._masked(match)

    def _known_values(self, text: str) -> str:
        if not self._known:
            return text
        if self._pattern is None:
            ordered = sorted(self._known, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(secret) for secret in ordered))
        return self._pattern.sub(MASK, text)

    def record(self, obj: Any) -> Any:
        """`obj` as it may be written to a file: JSON data (what JSON cannot hold as its
        `str`), its secrets learned first, then masked."""
        plain = json.loads(json.dumps(obj, default=str))
        self.learn(plain)
        return self.value(plain)

    # -- files -------------------------------------------------------------------------------
    def scrub_tree(self, root: Path, skip: Iterable[str], max_bytes: int) -> dict[str, list[str]]:
        """Mask the secrets in the text files under `root` (but `skip`, relative paths) that the
        harness did not write itself, such as a target's log; each is rewritten (atomically)
        only where something changed, and all once more when one showed a secret not known
        before (it may be in another, or earlier). Binary files (a NUL early on) are left; so
        are files over `max_bytes`, named in the answer (`scrubbed`, `skipped`, relative to
        `root`; none: no key) so the user knows which to check."""
        result: dict[str, list[str]] = {"scrubbed": [], "skipped": []}
        texts = []
        for folder, _dirs, names in os.walk(root):  # symbolic links to folders not followed
            for path in sorted(Path(folder) / name for name in names):
                relative = str(path.relative_to(root))
                if relative in skip or path.is_symlink() or path.suffix in _BINARY_SUFFIXES:
                    continue
                why = _unscrubbable(path, max_bytes)
                if why is None:
                    texts.append(path)
                elif why != "binary":
                    result["skipped"].append(f"{relative}: {why}")
        known = len(self._known) - 1
        while known != len(self._known):
            known = len(self._known)
            for path in texts:
                relative = str(path.relative_to(root))
                try:
                    if self._rewrite(path) and relative not in result["scrubbed"]:
                        result["scrubbed"].append(relative)
                except OSError as exc:
                    result["skipped"].append(f"{relative}: {exc}")
        return {kind: sorted(paths) for kind, paths in result.items() if paths}

    def _scrubbed_chunks(self, path: Path) -> Iterable[tuple[bytes, bytes]]:
        """(chunk, masked chunk) of a file, streamed in whole lines of about CHUNK_BYTES (the
        patterns run over a chunk at C speed, not line by line); a chunk that opens a private
        key block runs on to its end."""
        with path.open("rb") as handle:
            while raw := b"".join(handle.readlines(CHUNK_BYTES)):
                while (begin := raw.rfind(b"PRIVATE KEY-----")) >= 0 and (
                    raw.find(b"-----END", begin) < 0 and (more := handle.readline())
                ):
                    raw += more
                text = raw.decode("utf-8", errors="surrogateescape")
                yield raw, self.text(text).encode("utf-8", errors="surrogateescape")

    def _rewrite(self, path: Path) -> bool:
        tmp = path.with_name(f".{path.name}.redacting")
        changed = False
        try:
            with tmp.open("wb") as out:
                for raw, masked in self._scrubbed_chunks(path):
                    changed = changed or masked != raw
                    out.write(masked)
            if changed:
                os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return changed


def _unscrubbable(path: Path, max_bytes: int) -> str | None:
    """Why `path` is not scrubbed as text: binary (a NUL early on), too large, unreadable."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(8192)
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if b"\0" in head:
        return "binary"
    if size > max_bytes:
        return f"not scrubbed of secrets: {size} bytes, over the {max_bytes} scrubbed"
    return None


def redact(value: Any, name: str = "") -> Any:
    """Configuration as it may be shared, on its own: secrets masked by name and by value."""
    redactor = Redactor()
    redactor.learn(value)
    return redactor.value(value, name)
