"""Deterministic embeddings by signed feature hashing of words: texts that share words are
close, identical texts are identical, and no model is needed."""

from __future__ import annotations

import base64
import itertools
import re
import zlib
from array import array
from functools import lru_cache

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@lru_cache(maxsize=65536)
def _slot(token: str, dimensions: int) -> tuple[int, float]:
    hashed = zlib.crc32(token.encode("utf-8"))
    return hashed % dimensions, (1.0 if hashed & 0x80000000 else -1.0)


def native_dimensions(deployment: str) -> int:
    """What the deployment's model answers without a `dimensions` parameter: Azure deployments
    are named by their owner, so guess from the conventional names (3-small and ada: 1536)."""
    name = deployment.lower()
    return 1536 if "small" in name or "ada" in name else 3072


def embed(text: str, dimensions: int = 3072) -> array[float]:
    vector = array("f", bytes(4 * dimensions))
    tokens = _WORD.findall(text.lower())
    for token in tokens:
        index, sign = _slot(token, dimensions)
        vector[index] += sign
    for first, second in itertools.pairwise(tokens):  # word pairs add some order
        index, sign = _slot(f"{first} {second}", dimensions)
        vector[index] += 0.5 * sign
    norm = sum(x * x for x in vector) ** 0.5
    if norm == 0.0:
        vector[0] = 1.0
        return vector
    return array("f", (x / norm for x in vector))


def encode(vector: array[float], encoding_format: str) -> list[float] | str:
    """'float' gives a JSON list; 'base64' the little-endian float32 bytes the SDK decodes."""
    if encoding_format == "base64":
        return base64.b64encode(vector.tobytes()).decode("ascii")
    return [round(x, 7) for x in vector]
