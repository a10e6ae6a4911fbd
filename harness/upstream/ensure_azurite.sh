#!/usr/bin/env bash
# Azurite (the Azure Storage emulator) from npm, into PREFIX, for the resume_api's blob storage
# upstream. Package data of the harness: harness/upstream/azurite.py runs it with its PREFIX (the
# user's cache; `python -m harness.upstream.azurite` installs ahead of a run). Re-running with the
# pinned version already there takes no time. Needs Node.js >= 18 with npm.
#   usage: ensure_azurite.sh PREFIX
#   AZURITE_VERSION   the npm version to install (default below)
# Prints the path of azurite-blob on stdout (npm's output goes to stderr); exits 2 with a clear
# message when npm is missing or the install fails.
set -euo pipefail
_prefix="${1:?usage: ensure_azurite.sh PREFIX (where npm installs Azurite)}"
_version="${AZURITE_VERSION:-3.37.0}"
_bin="$_prefix/node_modules/.bin/azurite-blob"
_stamp="$_prefix/.installed-version"

_azurite_fail() {
  echo "error: $*" >&2
  echo "       Azurite is what the resume_api's blob storage upstream runs; install Node.js >= 18" >&2
  echo "       with npm (Debian: apt-get install nodejs npm) and re-run python -m harness.upstream.azurite" >&2
  exit 2
}

if [ -x "$_bin" ] && [ -f "$_stamp" ] && [ "$(cat "$_stamp")" = "$_version" ]; then
  echo "$_bin"
else
  if ! command -v npm >/dev/null 2>&1; then
    _azurite_fail "npm is not installed: cannot install Azurite $_version"
  elif ! command -v node >/dev/null 2>&1; then
    _azurite_fail "node is not installed: cannot run Azurite"
  else
    echo "==> installing azurite@$_version into $_prefix (npm)" >&2
    mkdir -p "$_prefix"
    if npm install --prefix "$_prefix" --no-audit --no-fund --loglevel=error \
      "azurite@$_version" >&2 && [ -x "$_bin" ]; then
      echo "$_version" > "$_stamp"
      echo "$_bin"
    else
      _azurite_fail "npm install azurite@$_version failed (see above)"
    fi
  fi
fi
