#!/usr/bin/env bash
# A Docker engine and the service image for `--backend docker`, on a machine that cannot pull
# images (idempotent: a re-run only does what is missing).
#
#   1. an engine: if `docker info` answers, use it; otherwise install Debian's docker.io (and
#      debootstrap) and start a private dockerd whose state lives in $LEAK_HARNESS_DOCKER_STATE
#      (default /var/tmp/leak-harness-docker: data, exec root, pidfile, log). It runs without a
#      bridge and without iptables rules: the harness runs containers with host networking, and
#      a shared machine's firewall is not ours to change. Stop it with scripts/docker_teardown.sh.
#   2. a local base image, leak-harness/bookworm-python:3.11 (Debian 12's python3 is 3.11, as the
#      service wants), made by debootstrap from the machine's own Debian mirror and `docker
#      import`; the root filesystem tarball is cached in $LEAK_HARNESS_CACHE (default
#      /var/tmp/leak-harness-cache), so rebuilding the image later takes seconds.
#   3. wheels of the service's dependencies, and of memray for profiled runs, in .docker-wheels/
#      (the image build has no network).
#   4. the service image from resume_api/Dockerfile, tagged by content hash exactly as the
#      harness tags it, so the first `--backend docker` run starts at once.
#
# Usage: scripts/docker_setup.sh [--engine-only] [--no-image]
# Needs root for steps 1 and 2 (apt-get, dockerd, debootstrap).
set -euo pipefail
cd "$(dirname "$0")/.."

STATE="${LEAK_HARNESS_DOCKER_STATE:-/var/tmp/leak-harness-docker}"
CACHE="${LEAK_HARNESS_CACHE:-/var/tmp/leak-harness-cache}"
BASE_IMAGE="leak-harness/bookworm-python:3.11"
INCLUDE="python3,python3-venv,python3-pip,ca-certificates"
engine_only=0
build_image=1
for arg in "$@"; do
  case "$arg" in
    --engine-only) engine_only=1 ;;
    --no-image) build_image=0 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "==> $*" >&2; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }
engine_answers() { docker info >/dev/null 2>&1; }

# -- 1. the engine ---------------------------------------------------------------------------
install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  [ ${#missing[@]} -gt 0 ] || return 0
  [ "$(id -u)" = 0 ] || { echo "error: installing ${missing[*]} needs root" >&2; exit 3; }
  say "installing ${missing[*]} (apt-get)"
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
}

start_dockerd() {
  mkdir -p "$STATE/data" "$STATE/exec"
  local pidfile="$STATE/dockerd.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    say "dockerd (pid $(cat "$pidfile")) is starting"
  else
    rm -f "$pidfile"
    say "starting dockerd (state in $STATE, log $STATE/dockerd.log)"
    setsid nohup dockerd \
      --data-root "$STATE/data" --exec-root "$STATE/exec" --pidfile "$pidfile" \
      --bridge=none --iptables=false --ip6tables=false \
      >>"$STATE/dockerd.log" 2>&1 </dev/null &
  fi
  for _ in $(seq 1 120); do
    engine_answers && return 0
    sleep 0.5
  done
  echo "error: dockerd did not answer within 60s; its log ends with:" >&2
  tail -n 20 "$STATE/dockerd.log" >&2
  exit 3
}

if engine_answers; then
  say "a Docker engine answers"
  [ "$engine_only" = 1 ] || command -v debootstrap >/dev/null 2>&1 || install_packages
else
  install_packages
  start_dockerd
fi
[ "$engine_only" = 1 ] && exit 0

# -- 2. the base image -----------------------------------------------------------------------
debian_mirror() {
  # The machine's configured mirror for bookworm: one-line sources, then deb822 .sources.
  local file
  {
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$file" ] || continue
      awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                         if ($(i + 1) == "bookworm") { print $i; exit } }' "$file"
    done
    for file in /etc/apt/sources.list.d/*.sources; do
      [ -f "$file" ] || continue
      awk 'BEGIN { RS = "" }
           /(^|\n)Suites:[^\n]*[ \t]bookworm([ \t\n]|$)/ && /(^|\n)Types:[^\n]*deb([ \t\n]|$)/ {
             if (match($0, /URIs:[ \t]*[^ \t\n]+/)) {
               uri = substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", uri); print uri; exit } }' \
        "$file"
    done
  } | head -n 1
}

if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  say "base image $BASE_IMAGE exists"
else
  key="$(echo "bookworm minbase $INCLUDE" | sha256sum | cut -c1-12)"
  tarball="$CACHE/bookworm-python-$key.tar"
  if [ ! -f "$tarball" ]; then
    command -v debootstrap >/dev/null 2>&1 || install_packages
    mirror="${LEAK_HARNESS_DEBIAN_MIRROR:-$(debian_mirror)}"
    mirror="${mirror:-http://deb.debian.org/debian}"
    mkdir -p "$CACHE"
    rootfs="$CACHE/rootfs.partial"
    rm -rf "$rootfs"
    say "debootstrap bookworm from $mirror (minbase + $INCLUDE)"
    started=$(date +%s)
    debootstrap --variant=minbase --include="$INCLUDE" bookworm "$rootfs" "$mirror" \
      >"$CACHE/debootstrap.log" 2>&1 || {
      echo "error: debootstrap failed; $CACHE/debootstrap.log ends with:" >&2
      tail -n 20 "$CACHE/debootstrap.log" >&2
      exit 3
    }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" --numeric-owner -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
    rm -rf "$rootfs"
    say "debootstrap took $(elapsed "$started"); cached in $tarball"
  fi
  say "importing $tarball as $BASE_IMAGE"
  started=$(date +%s)
  docker import --change 'CMD ["/bin/bash"]' "$tarball" "$BASE_IMAGE" >/dev/null
  say "import took $(elapsed "$started")"
fi
[ "$build_image" = 1 ] || exit 0

# -- 3. wheels for the offline image build ---------------------------------------------------
# shellcheck source=scripts/ensure_venv.sh
source scripts/ensure_venv.sh
WHEELS=.docker-wheels
mkdir -p "$WHEELS"
# requirements.txt: the service's; memray.txt: the profiler a `--profile memray` image adds,
# pinned to the harness's own memray, which reads the capture
python - "$WHEELS" <<'PY'
import importlib.metadata, sys, tomllib
extra = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["service"]
open(f"{sys.argv[1]}/requirements.txt", "w").write("\n".join(extra) + "\n")
open(f"{sys.argv[1]}/memray.txt", "w").write(f"memray=={importlib.metadata.version('memray')}\n")
PY
for requirements in requirements.txt memray.txt; do
  if ! python -m pip download --quiet --no-index --find-links "$WHEELS" -d "$WHEELS" \
    -r "$WHEELS/$requirements" >/dev/null 2>&1; then
    say "downloading wheels for $WHEELS/$requirements"
    python -m pip wheel --quiet --wheel-dir "$WHEELS" -r "$WHEELS/$requirements" >&2
  fi
done

# -- 4. the service image --------------------------------------------------------------------
say "building the service image (reused when unchanged)"
started=$(date +%s)
python -m harness.target.docker_image
say "image ready in $(elapsed "$started")"
