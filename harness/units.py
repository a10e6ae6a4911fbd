"""Memory units as every report prints them: binary (MiB, GiB), whatever the figure's source."""

from __future__ import annotations

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30


def mib(value: float | None, unit: str = " MiB", missing: str = "-") -> str:
    """Bytes as '1,234.5 MiB' ('-' when not measured)."""
    return missing if value is None else f"{value / MIB:,.1f}{unit}"
