"""Text helpers shared by the analysis services."""

from __future__ import annotations

import hashlib
import html
import math
import re
from array import array
from collections.abc import Iterable

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plain_text(markup: str) -> str:
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", markup))).strip()


def split_keywords(value: Iterable[str] | str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    seen: dict[str, str] = {}
    for item in items:
        keyword = item.strip()
        if keyword and keyword.lower() not in seen:
            seen[keyword.lower()] = keyword
    return list(seen.values())


def keyword_present(keyword: str, text_lower: str) -> bool:
    pattern = r"(?<![\w])" + re.escape(keyword.lower()) + r"(?![\w])"
    return re.search(pattern, text_lower) is not None


def cosine(a: array[float], b: array[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    return dot / norm if norm else 0.0


def similarity_score(raw: float) -> float:
    """The published score: a sigmoid stretch of the raw cosine, as the real service does."""
    return 100.0 / (1.0 + math.exp(-15.0 * (raw - 0.6)))
