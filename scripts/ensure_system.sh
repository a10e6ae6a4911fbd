#!/usr/bin/env bash
# Sourced by run_complete_test_suite.sh: the system parts some tests need, where this machine
# lets us install them (root with apt-get); elsewhere those tests skip and say why.
#   - Debian's chromium, for the test that opens report.html in a real browser;
#   - a Docker engine and the service image (scripts/docker_setup.sh), for the docker backend
#     tests. A dockerd started here is stopped by the caller's `system_teardown`;
#   - Azurite from npm (python -m harness.upstream.azurite, into the user's cache), the blob
#     storage upstream.
set -uo pipefail
_say() { echo "==> system: $*" >&2; }
_can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
_docker_started_here=0

if ! command -v chromium >/dev/null 2>&1; then
  if _can_install; then
    _say "installing chromium (apt-get)"
    { apt-get install -y -q --no-install-recommends chromium >&2 \
      || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends chromium >&2; }; } \
      || _say "WARNING: chromium did not install: the browser test will be skipped"
  else
    _say "no chromium and no root/apt-get: the browser test will be skipped"
  fi
fi

if docker info >/dev/null 2>&1; then
  _say "a Docker engine answers"
  scripts/docker_setup.sh >&2 || _say "WARNING: the service image did not build"
elif _can_install; then
  _started=$(date +%s)
  if scripts/docker_setup.sh >&2; then
    _docker_started_here=1
    _say "Docker engine and service image ready in $(( $(date +%s) - _started ))s"
  else
    _say "WARNING: docker set-up failed (see above): the docker backend tests will be skipped"
  fi
else
  _say "no Docker engine and no root/apt-get: the docker backend tests will be skipped"
fi

if _azurite=$(python -m harness.upstream.azurite); then
  _say "Azurite ready: $_azurite"
else
  _say "WARNING: Azurite is not installed (see above): runs of the bundled service and the blob storage tests will fail"
fi

system_teardown() {
  if [ "$_docker_started_here" = 1 ]; then
    scripts/docker_teardown.sh || true
  fi
}
