"""The corpus of real leaks (benchmarks/corpus/*/): each case's leaky version and its fixed
twin, run through `leak-harness run` as a user would (the case's own leak-harness.toml and
locustfile, its virtualenv first on PATH), beside the service's own RSS growth per request
measured without the harness (benchmarks/plain_driver.py).

    .venv/bin/python benchmarks/corpus_matrix.py [--cases a,b] [--variants leaky,fixed]
        [--scenario quick] [--backend cgroup] [--tag NAME] [--resume] [--no-driver]

Virtualenvs are made once per requirement set under /var/tmp/leak-harness-corpus (pip from
PyPI); results are appended to results/corpus_<tag>.jsonl as they come and the table is
printed (and written to results/corpus_<tag>.txt) at the end."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "benchmarks" / "corpus"
RESULTS = ROOT / "benchmarks" / "results"
VENVS = Path("/var/tmp/leak-harness-corpus")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plain_driver import drive  # noqa: E402

#: what a leaky variant must be judged, by how its case says it fails
CAUGHT = {"LEAK"}


def cases(names: list[str] | None) -> list[Path]:
    found = sorted(path.parent for path in CORPUS.glob("*/case.toml"))
    if names:
        unknown = set(names) - {path.name for path in found}
        if unknown:
            raise SystemExit(f"no such case: {', '.join(sorted(unknown))}")
        found = [path for path in found if path.name in names]
    return found


def venv_for(requirements: list[str]) -> Path:
    """A virtualenv with exactly these requirements (made once, reused by hash)."""
    digest = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:12]
    home = VENVS / digest
    python = home / "bin" / "python"
    if (home / ".complete").is_file():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(home)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
        check=True,
    )
    (home / ".complete").write_text("\n".join(requirements) + "\n")
    return python


def harness_run(
    case_dir: Path, variant: str, python: Path, scenario: str, backend: str, out: Path
) -> dict[str, Any]:
    """One `leak-harness run`, then `leak-harness analyze --json`: the verdict as a user sees it."""
    env = {
        **os.environ,
        "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "CORPUS_VARIANT": variant,
    }
    started = time.monotonic()
    run = subprocess.run(
        [
            *(sys.executable, "-m", "harness", "run", "--scenario", scenario),
            *("--config", str(case_dir / "leak-harness.toml")),
            *("--locustfile", str(case_dir / "locustfile.py")),
            *("--backend", backend, "--out", str(out), "--json"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=3600,
    )
    seconds = round(time.monotonic() - started, 1)
    try:
        run_dir = json.loads(run.stdout.strip().splitlines()[-1])["run_dir"]
    except (IndexError, KeyError, json.JSONDecodeError):
        return {"run_exit": run.returncode, "error": run.stderr.strip()[-400:], "seconds": seconds}
    return {"run_dir": run_dir, "run_exit": run.returncode, **judged(run_dir), "seconds": seconds}


def judged(run_dir: str) -> dict[str, Any]:
    """A run's verdict by the analyzer as it is now (--reanalyze re-reads old runs)."""
    done = subprocess.run(
        [sys.executable, "-m", "harness", "analyze", run_dir, "--json", "--no-report"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    verdict = json.loads(done.stdout)
    low, high = verdict.get("interval") or (None, None)
    outcome = json.loads((Path(run_dir) / "run.json").read_text()).get("outcome") or {}
    return {
        "analyze_exit": done.returncode,
        "outcome": outcome.get("status"),
        "verdict": verdict["verdict"],
        "classes": verdict["classes"],
        "bytes_per_request": verdict["bytes_per_request"],
        "low": low,
        "high": high,
        "threshold": (verdict.get("rules") or {}).get("leak_bytes_per_request"),
        "requests": verdict["requests_measured"],
        "reason": verdict.get("reason"),
        "failed_items": [
            item["name"] for item in verdict.get("checklist", []) if item.get("status") == "FAIL"
        ],
    }


def one(case_dir: Path, variant: str, args: argparse.Namespace) -> dict[str, Any]:
    case = tomllib.loads((case_dir / "case.toml").read_text())
    python = venv_for(case["variants"][variant]["requirements"])
    row: dict[str, Any] = {"case": case_dir.name, "variant": variant, "expect": case["expect"]}
    if not args.no_driver:
        try:
            row["driver"] = drive(case_dir, variant, python).to_json()
        except RuntimeError as exc:
            row["driver"] = {"error": str(exc)}
    out = VENVS / "reports" / args.tag
    row.update(harness_run(case_dir, variant, python, args.scenario, args.backend, out))
    return row


def _size(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| case | variant | plain RSS B/req | fds +/- | verdict | estimate B/req (95% CI) "
        "| classes | outcome | exit |",
        "|---|---|---:|---:|---|---|---|---|---:|",
    ]
    for row in rows:
        driver = row.get("driver") or {}
        fds = (
            f"{driver['fds_end'] - driver['fds_after_warmup']:+d}"
            if "fds_end" in driver and not driver.get("died")
            else "-"
        )
        estimate = (
            f"{_size(row.get('bytes_per_request'))} ({_size(row.get('low'))}.."
            f"{_size(row.get('high'))})"
            if row.get("verdict")
            else row.get("error", "")[:80]
        )
        lines.append(
            f"| {row['case']} | {row['variant']} | {_size(driver.get('rss_bytes_per_request'))} "
            f"| {fds} | {row.get('verdict', 'ERROR')} | {estimate} "
            f"| {', '.join(row.get('classes') or [])} | {row.get('outcome', '-')} "
            f"| {row.get('run_exit')}/{row.get('analyze_exit', '-')} |"
        )
    leaky = [row for row in rows if row["variant"] == "leaky"]
    fixed = [row for row in rows if row["variant"] == "fixed"]
    caught = sum(row.get("verdict") in CAUGHT for row in leaky)
    alarms = sum(row.get("verdict") == "LEAK" for row in fixed)
    lines += [
        "",
        f"leaks caught: {caught} of {len(leaky)}; false LEAK on fixed twins: {alarms} of "
        f"{len(fixed)} (NO LEAK {sum(r.get('verdict') == 'NO LEAK' for r in fixed)}, "
        f"INCONCLUSIVE {sum(r.get('verdict') == 'INCONCLUSIVE' for r in fixed)})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=lambda text: text.split(","), default=None)
    parser.add_argument("--variants", type=lambda text: text.split(","), default=["leaky", "fixed"])
    parser.add_argument("--scenario", default="quick")
    parser.add_argument("--backend", default="cgroup")
    parser.add_argument("--tag", default="quick")
    parser.add_argument("--resume", action="store_true", help="skip rows already in the file")
    parser.add_argument("--no-driver", action="store_true", help="harness runs only")
    parser.add_argument(
        "--reanalyze", action="store_true", help="re-judge the file's runs with today's analyzer"
    )
    args = parser.parse_args(argv)
    path = RESULTS / f"corpus_{args.tag}.jsonl"
    done: list[dict[str, Any]] = []
    if args.reanalyze:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        done = [{**row, **judged(row["run_dir"])} if "run_dir" in row else row for row in rows]
        path.write_text("".join(json.dumps(row) + "\n" for row in done))
    elif args.resume and path.is_file():
        done = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    elif path.is_file():
        path.unlink()
    seen = {(row["case"], row["variant"]) for row in done}
    for case_dir in [] if args.reanalyze else cases(args.cases):
        for variant in args.variants:
            if (case_dir.name, variant) in seen:
                continue
            row = one(case_dir, variant, args)
            done.append(row)
            with path.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(
                f"{row['case']} {variant}: {row.get('verdict', 'ERROR')} "
                f"{_size(row.get('bytes_per_request'))} B/req "
                f"(plain {_size((row.get('driver') or {}).get('rss_bytes_per_request'))})",
                flush=True,
            )
    text = table(done)
    (RESULTS / f"corpus_{args.tag}.txt").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
