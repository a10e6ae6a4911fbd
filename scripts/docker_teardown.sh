#!/usr/bin/env bash
# Stop the private dockerd that scripts/docker_setup.sh started: only the process named in its
# pidfile, and only if that process is a dockerd (an engine started any other way is left
# alone). Containers, images and the cached root filesystem stay: a later setup reuses them.
#
# Usage: scripts/docker_teardown.sh [--purge]   (--purge also deletes the engine's data)
set -euo pipefail
STATE="${LEAK_HARNESS_DOCKER_STATE:-/var/tmp/leak-harness-docker}"
pidfile="$STATE/dockerd.pid"
purge=0
case "${1:-}" in
  "") ;;
  --purge) purge=1 ;;
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "error: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac

if [ -f "$pidfile" ]; then
  pid="$(cat "$pidfile")"
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "dockerd" ]; then
    echo "==> stopping dockerd (pid $pid)" >&2
    kill -TERM "$pid"
    for _ in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "error: dockerd (pid $pid) did not stop within 30s; see $STATE/dockerd.log" >&2
      exit 1
    fi
  else
    echo "==> no dockerd runs under pid ${pid:-?} (stale pidfile)" >&2
  fi
  rm -f "$pidfile"
else
  echo "==> no dockerd was started by scripts/docker_setup.sh ($pidfile absent)" >&2
fi
if [ "$purge" = 1 ]; then
  echo "==> deleting $STATE" >&2
  rm -rf "$STATE"
fi
