#!/usr/bin/env bash
# The complete test suite: static checks, then the test stages, in a .venv it prepares itself.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  cat <<'USAGE'
Usage: ./run_complete_test_suite.sh [--stage STAGE] [--include-performance] [--no-lint] [-- PYTEST_ARGS...]

Stages (default: unit, integration, memory):
  unit          fast tests of single modules            (test/unit)
  integration   real processes: the service, the stub   (test/integration)
  memory        leak-detection tests that drive the bundled service for a while (test/memory)
  extended      the same for the optional features: memray profiling, blob storage switches
                (test/memory, marked `extended`; not in the default stages)
  performance   short benchmarks that print their figures (test/performance)
  all           every stage above

Options:
  --stage STAGE           run only this stage (repeatable)
  --include-performance   add the performance stage to the default stages
  --no-lint               skip ruff and mypy
  --no-system             do not install chromium or start a Docker engine (those tests skip)
  -h, --help              show this help
Exit code: 0 when every stage passed, 1 when a test or check failed, 2 on a usage error.
USAGE
}

stages=()
include_performance=0
lint=1
system=1
pytest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stage)
      [ $# -ge 2 ] || { echo "error: --stage needs a value (unit|integration|memory|extended|performance|all)" >&2; exit 2; }
      case "$2" in
        unit|integration|memory|extended|performance) stages+=("$2") ;;
        all) stages+=(unit integration memory extended performance) ;;
        *) echo "error: unknown stage '$2' (use unit|integration|memory|extended|performance|all)" >&2; exit 2 ;;
      esac
      shift 2 ;;
    --stage=*) set -- --stage "${1#--stage=}" "${@:2}" ;;
    --include-performance) include_performance=1; shift ;;
    --no-lint) lint=0; shift ;;
    --no-system) system=0; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; pytest_args=("$@"); break ;;
    *) echo "error: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#stages[@]} -gt 0 ] || stages=(unit integration memory)
[ "$include_performance" = 1 ] && [[ ! " ${stages[*]} " =~ " performance " ]] && stages+=(performance)

# shellcheck source=scripts/ensure_venv.sh
source scripts/ensure_venv.sh
if [ "$system" = 1 ] && [[ " ${stages[*]} " =~ " "(integration|memory|extended)" " ]]; then
  # shellcheck source=scripts/ensure_system.sh
  source scripts/ensure_system.sh
  set -euo pipefail
  trap system_teardown EXIT
fi

failed=()
if [ "$lint" = 1 ]; then
  echo "==> lint: ruff, mypy"
  ruff check . && ruff format --check --quiet . && mypy || failed+=(lint)
fi

for stage in "${stages[@]}"; do
  dir="test/$stage"
  marks=()
  case "$stage" in
    memory) marks=(-m "not extended") ;;
    extended) dir=test/memory; marks=(-m extended) ;;
  esac
  if ! compgen -G "$dir/test_*.py" >/dev/null; then
    echo "==> stage $stage: no tests in $dir yet"
    continue
  fi
  echo "==> stage $stage ($dir${marks[0]:+, -m ${marks[1]}})"
  set +e
  python -m pytest "$dir" "${marks[@]}" "${pytest_args[@]}"
  rc=$?
  set -e
  case "$rc" in
    0) ;;
    5) echo "==> stage $stage: no tests collected" ;;
    *) failed+=("$stage") ;;
  esac
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "==> FAILED: ${failed[*]}"
  exit 1
fi
echo "==> all stages passed: ${stages[*]}"
