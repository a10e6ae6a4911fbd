#!/usr/bin/env bash
# The main job: memory-leak tests of the bundled AI Resume Advisor API in the embedded
# sandbox (a 2 GiB memory cgroup, 1 CPU), in a .venv it prepares itself.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  cat <<'USAGE'
Usage: ./run_memory_leak_tests.sh [full|stress|quick|analyze] [leak-harness run options...]

Modes:
  full     nightly: three load/idle cycles with cleanup in each idle (about 8 minutes)   [default]
  stress   ramp users until the service saturates and record the knee (about 6 minutes)
  quick    CI smoke: about two minutes including boot
  analyze  re-read the latest run directory (reports/latest)

Any further options go to `leak-harness run`, e.g. --leak unbounded-cache:4KiB,
--backend process, --memory-limit 1g, --duration 300, --quiet, --json.
Each run is judged when it ends: verdict, pre-production checklist, and the reports
(report.html, summary.md, junit.xml, verdict.json) in its run directory.
Exit code: 0 NO LEAK and the checklist passed, 1 LEAK, a checklist FAIL or the target died
under load (OOM kill, crash), 4 INCONCLUSIVE, 2 usage or configuration error,
3 infrastructure error (sandbox, boot), 130 interrupted.
USAGE
}

mode="full"
if [ $# -gt 0 ]; then
  case "$1" in
    -h|--help) usage; exit 0 ;;
    full|stress|quick|analyze) mode="$1"; shift ;;
    -*) ;;
    *) echo "error: unknown mode '$1' (use full|stress|quick|analyze)" >&2; usage >&2; exit 2 ;;
  esac
fi

source scripts/ensure_venv.sh

if [ "$mode" = "analyze" ]; then
  exec leak-harness analyze "$@"
fi
exec leak-harness run --scenario "$mode" --backend cgroup --analyze "$@"
