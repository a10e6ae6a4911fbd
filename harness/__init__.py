"""leak-harness: memory-leak tests and benchmarks for Python web services in limited containers."""

from __future__ import annotations

__version__ = "0.1.0"
