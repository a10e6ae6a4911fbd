"""Detection accuracy of the verdicts: every leak switch of the bundled service at several
rates, several repeats each, plus clean runs; prints the detection rate per cell, the false
alarm rate, the median time to verdict, and the smallest rate caught 95% of the time.

    .venv/bin/python benchmarks/detection_matrix.py [--scenario quick] [--repeats 3]
        [--clean-runs 20] [--rates 256,1024,4096,16384] [--switches a,b] [--out DIR]
        [--resume | --reanalyze] [--leak-threshold B] [--backend cgroup|docker] [--no-file-users]

Each run is a real `leak-harness run` (the cgroup sandbox, or a Docker container) followed by
`leak-harness analyze`; the resume file users (uploads, downloads, SAS links, deletes on
Azurite) are in the mix, as the blob storage switches need (--no-file-users leaves them out);
results are appended to a JSON-lines file as they come, so a long matrix can be stopped and
resumed with --resume."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resume_api.leaks import LEAKS  # noqa: E402

#: the class each switch must land in (any of them)
EXPECTED = {
    "telemetry-buffer": {"python-heap"},
    "unbounded-cache": {"python-heap"},
    "latency-by-raw-path": {"python-heap"},
    "task-accumulation": {"resources:app_tasks", "python-heap"},
    "unclosed-http-client": {"resources:fds", "resources:sockets", "native"},
    "native-malloc": {"native"},
    "shm-spill": {"container-only"},
}
#: the blob storage switches (they need the file users): what each leaks is held in the heap
BLOB_EXPECTED = {
    name: {"python-heap"}
    for name in (
        "blob-client-per-request",
        "credential-per-request",
        "sas-client-per-call",
        "unclosed-download-stream",
        "unbounded-upload-buffer",
    )
}
#: for heap-class switches, the file the top leak suspect must be in (the switch's own code)
SUSPECT_FILE = {
    "telemetry-buffer": "resume_api/telemetry.py",
    "latency-by-raw-path": "resume_api/telemetry.py",
    "unbounded-cache": "resume_api/llm.py",  # the padded copy pinned past the bound
    "task-accumulation": "resume_api/resources.py",
}


def one_run(
    scenario: str, out: Path, leak: str | None, rules: list[str], backend: str, env: dict[str, str]
) -> dict[str, Any]:
    started = time.monotonic()
    command = [sys.executable, "-m", "harness", "run", "--scenario", scenario, "--quiet"]
    command += ["--backend", backend, "--out", str(out), "--json"]
    if leak:
        command += ["--leak", leak]
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, timeout=1800, env={**os.environ, **env}
    )
    if done.returncode not in (0, 1):
        return {"leak": leak, "error": done.stderr.strip()[-400:]}
    run_dir = json.loads(done.stdout.strip().splitlines()[-1])["run_dir"]
    return {
        **judged(leak, run_dir, rules),
        "seconds": round(time.monotonic() - started, 1),
    }


def judged(leak: str | None, run_dir: str, rules: list[str]) -> dict[str, Any]:
    """One run's verdict by the analyzer as it is now (--reanalyze re-reads old runs); `rules`
    are extra `analyze` options (e.g. the same --leak-threshold for runs of different days)."""
    done = subprocess.run(
        [sys.executable, "-m", "harness", "analyze", run_dir, "--json", "--no-report", *rules],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    verdict = json.loads(done.stdout)
    top = (verdict["suspects"] or [{}])[0].get("site")
    expected = _expected_file({"leak": leak})
    return {
        "leak": leak,
        "run_dir": run_dir,
        "verdict": verdict["verdict"],
        "classes": verdict["classes"],
        "bytes_per_request": verdict["bytes_per_request"],
        "detectable": verdict["detectable_bytes_per_request"],
        "requests": verdict["requests_measured"],
        "top_suspect": top,
        "suspect_ok": None if expected is None else bool(top and expected in top),
    }


def _expected_file(result: dict[str, Any]) -> str | None:
    return SUSPECT_FILE.get((result.get("leak") or "").split(":")[0])


def interleaved_plan(
    switches: list[str], rates: list[int], repeats: int, clean_runs: int
) -> list[str | None]:
    """Blocks of one repeat at one rate (rates in the order given: put the one that matters
    first), each with its share of clean runs, so a matrix stopped early is still balanced
    and clean and leaky runs see the same machine conditions."""
    blocks = [(repeat, rate) for repeat in range(repeats) for rate in rates]
    per_block = -(-clean_runs // max(len(blocks), 1))
    plan: list[str | None] = []
    left = clean_runs
    for _, rate in blocks:
        plan += [f"{name}:{rate}" for name in switches]
        plan += [None] * min(per_block, left)
        left -= min(per_block, left)
    return plan + [None] * left


def report(results: list[dict[str, Any]], rates: list[int]) -> None:
    cells: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    clean = [r for r in results if r.get("leak") is None and "verdict" in r]
    for result in results:
        if result.get("leak") and "verdict" in result:
            name, rate = result["leak"].split(":")
            cells[(name, int(rate))].append(result)
    rates = sorted(rates)
    print(f"\n{'switch':<24}" + "".join(f"{f'{r} B/req':>14}" for r in rates) + "   smallest 95%")
    for name, expected in {**EXPECTED, **BLOB_EXPECTED}.items():
        if not any(switch == name for switch, _ in cells):
            continue
        line = f"{name:<24}"
        smallest = None
        for rate in rates:
            runs = cells.get((name, rate), [])
            caught = [r for r in runs if r["verdict"] == "LEAK" and set(r["classes"]) & expected]
            line += f"{f'{len(caught)}/{len(runs)}' if runs else '-':>14}"
            if runs and len(caught) / len(runs) >= 0.95 and smallest is None:
                smallest = rate
        print(line + f"   {smallest if smallest is not None else '-'}")
    suspects = [r for r in results if _expected_file(r) is not None and "verdict" in r]
    if suspects:
        right = sum(1 for r in suspects if _expected_file(r) in (r.get("top_suspect") or ""))
        print(f"heap leaks whose top suspect is the switch's own code: {right}/{len(suspects)}")
    alarms = [r for r in clean if r["verdict"] == "LEAK"]
    inconclusive = [r for r in clean if r["verdict"] == "INCONCLUSIVE"]
    print(
        f"\nclean runs: {len(clean)}, false alarms {len(alarms)} "
        f"({100 * len(alarms) / max(len(clean), 1):.0f}%), inconclusive {len(inconclusive)}"
    )
    seconds = [r["seconds"] for r in results if "seconds" in r]
    if seconds:
        print(f"median time to verdict (run + analyze): {statistics.median(seconds):.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="quick")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clean-runs", type=int, default=20)
    parser.add_argument("--rates", default="1024,4096,256,16384", help="first ones run first")
    parser.add_argument("--switches", default=",".join(EXPECTED))
    parser.add_argument("--backend", choices=["cgroup", "docker"], default="cgroup")
    parser.add_argument(
        "--no-file-users", action="store_true", help="leave the resume file users out"
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/leak-harness-matrix"))
    parser.add_argument("--resume", action="store_true", help="keep results already in --out")
    parser.add_argument(
        "--reanalyze",
        action="store_true",
        help="re-judge the runs already in --out with the analyzer as it is now, then report",
    )
    parser.add_argument(
        "--leak-threshold",
        type=float,
        help="judge every run at this leak_bytes_per_request (default: each run's scenario's)",
    )
    args = parser.parse_args()
    rules = [] if args.leak_threshold is None else ["--leak-threshold", str(args.leak_threshold)]
    rates = [int(r) for r in args.rates.split(",")]
    switches = [s for s in args.switches.split(",") if s]
    unknown = set(switches) - set(LEAKS)
    if unknown:
        parser.error(f"unknown switches {sorted(unknown)}; known: {', '.join(LEAKS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "results.jsonl"
    results = (
        [json.loads(line) for line in log.read_text().splitlines()]
        if (args.resume or args.reanalyze) and log.exists()
        else []
    )
    if args.reanalyze:
        results = [
            {**r, **judged(r["leak"], r["run_dir"], rules)} if "run_dir" in r else r
            for r in results
        ]
        log.write_text("".join(json.dumps(r) + "\n" for r in results))
        report(results, rates)
        return 0
    if not args.resume:
        log.write_text("")
    plan = interleaved_plan(switches, rates, args.repeats, args.clean_runs)
    done_counts: dict[str | None, int] = defaultdict(int)
    for result in results:
        done_counts[result.get("leak")] += 1
    for index, leak in enumerate(plan, start=1):
        if done_counts[leak] > 0:
            done_counts[leak] -= 1
            continue
        env = {"RESUME_API_FILE_USERS": "0"} if args.no_file_users else {}
        result = one_run(args.scenario, args.out / "reports", leak, rules, args.backend, env)
        results.append(result)
        with log.open("a") as handle:
            handle.write(json.dumps(result) + "\n")
        print(
            f"[{index}/{len(plan)}] {leak or 'clean'}: "
            f"{result.get('verdict', result.get('error'))} "
            f"{result.get('classes', '')} {result.get('seconds', '')} s "
            f"suspect {result.get('top_suspect')}",
            flush=True,
        )
    report(results, rates)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
