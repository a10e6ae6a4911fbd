#!/usr/bin/env bash
# Sourced by the top-level scripts: create or refresh .venv when it is missing or stale
# (pyproject.toml changed since the last install). Needs only python3 >= 3.11 and pip.
set -euo pipefail
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LEAK_HARNESS_VENV:-$_root/.venv}"
PYTHON_BIN="${PYTHON:-python3}"
_stamp="$VENV/.leak-harness-installed"
_want="$(sha256sum "$_root/pyproject.toml" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ ! -f "$_stamp" ] || [ "$(cat "$_stamp")" != "$_want" ]; then
  if ! "$PYTHON_BIN" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: Python >= 3.11 is needed (set PYTHON=/path/to/python3.11)" >&2
    exit 2
  fi
  echo "==> preparing $VENV (first run, or pyproject.toml changed)" >&2
  [ -x "$VENV/bin/python" ] || "$PYTHON_BIN" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$_root[dev]" >&2
  echo "$_want" > "$_stamp"
fi
export PATH="$VENV/bin:$PATH"
