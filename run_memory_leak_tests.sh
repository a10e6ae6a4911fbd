#!/usr/bin/env bash
# The main job: memory-leak tests of the bundled AI Resume Advisor API in the embedded
# sandbox (a 2 GiB memory cgroup, 1 CPU), in a .venv it prepares itself.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  cat <<'USAGE'
Usage: ./run_memory_leak_tests.sh [full|stress|quick] [options...]
       ./run_memory_leak_tests.sh analyze [RUN_DIR] [leak-harness analyze options...]

Modes:
  full     nightly suite: `leak-harness suite` runs the scenarios full (three load/idle
           cycles with cleanup), spike and stress one after another (about 26 minutes) and
           writes reports/suites/<id>/index.html linking each run's report   [default]
  stress   ramp users until the service saturates and record the knee (about 6 minutes)
  quick    CI smoke: about two minutes including boot
  analyze  re-judge a run and re-render its reports (verdict.json, report.html,
           summary.md, junit.xml, plots) from its directory; RUN_DIR defaults to
           reports/latest (the newest run), else give one under reports/runs/

Further options go to `leak-harness run` (to `leak-harness suite` for full, which passes
them to every run), e.g. --leak unbounded-cache:4KiB, --backend process,
--memory-limit 1g, --duration 300, --quiet, --json; full also takes --scenarios a,b,c.
Each run is judged when it ends: verdict, pre-production checklist, and the reports
(report.html, summary.md, junit.xml, verdict.json) in its run directory.
Exit code: 0 NO LEAK and the checklist passed, 1 LEAK, a checklist FAIL or the target died
under load (OOM kill, crash), 4 INCONCLUSIVE, 2 usage or configuration error,
3 infrastructure error (sandbox, boot), 130 interrupted; full exits with the worst of its
runs (1, then 3/2, then 4, then 0).
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

case "$mode" in
  analyze)
    if [ $# -eq 0 ] || [ "${1#-}" != "$1" ]; then
      if [ ! -e reports/latest/run.json ]; then
        echo "error: no run to analyze: reports/latest does not exist; give a run directory," \
          "e.g. ./run_memory_leak_tests.sh analyze reports/runs/<id>" >&2
        exit 2
      fi
    fi
    exec leak-harness analyze "$@" ;;
  full) exec leak-harness suite --backend cgroup "$@" ;;
  *) exec leak-harness run --scenario "$mode" --backend cgroup --analyze "$@" ;;
esac
