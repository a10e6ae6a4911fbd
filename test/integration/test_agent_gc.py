"""GC for every Python target (issue 23): a service without memory endpoints is asked for a
collection through the heap agent the harness injects, so what a series kept once the load
stopped is read on any Python service, not only on those with a GC endpoint.

The service (standard library only, written here) turns its garbage collector off and makes
16 KiB of cyclic garbage per request: under load its memory climbs like a leak's. Before, with
no GC endpoint, the verdict had no reading after a collection and called that a LEAK; the
agent's collection gives it back, so it is "grew under load, but did not keep it". Its twin
keeps each request's 16 KiB: a LEAK, with what it kept beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.runs import run_and_analyze, sandbox_backend

from harness.rundir import read_events

SERVICE = """
import gc, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

gc.disable()  # cyclic garbage stays until someone collects it
KEEP = sys.argv[2] == "keep"
kept = []

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        block = [bytearray(16384)]
        block.append(block)  # a cycle: only the collector frees it
        if KEEP and self.path == "/work":
            kept.append(block)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""
LOCUSTFILE = """
from locust import HttpUser, constant, task

class Visitor(HttpUser):
    wait_time = constant(0.02)

    @task
    def work(self):
        self.client.get("/work")
"""
SCENARIO = """
shape = "steady"
users = 4
spawn_rate = 4
warmup_s = 5
duration_s = 20
cleanup_s = 3
sample_interval_s = 0.5
tracemalloc_frames = 0  # the agent collects without tracing

[thresholds]
leak_bytes_per_request = 1024
"""


def _run(tmp_path: Path, mode: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    (tmp_path / "service.py").write_text(SERVICE)
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    (tmp_path / "scenario.toml").write_text(SCENARIO)
    (tmp_path / "target.toml").write_text(
        "[target]\n"
        'name = "cycles"\n'
        f'command = ["{{python}}", "{tmp_path / "service.py"}", "{{port}}", "{mode}"]\n'
        'env = {}\nhealth_path = "/health"\npython = true\nupstreams = []\nleak_env = ""\n'
        '[target.memory_endpoints]\nstats = ""\nhealth = ""\ngc = ""\nclear_cache = ""\n'
    )
    out = tmp_path / "reports"
    verdict = run_and_analyze(
        tmp_path / "scenario.toml",
        out,
        "--backend",
        sandbox_backend(),
        "--config",
        str(tmp_path / "target.toml"),
        "--locustfile",
        str(tmp_path / "locustfile.py"),
    )
    return verdict, read_events((out / "latest").resolve())


def _gc_item(verdict: dict[str, Any]) -> dict[str, Any]:
    return next(i for i in verdict["checklist"] if i["name"] == "garbage collection is effective")


def test_garbage_the_agent_collects_was_not_kept(tmp_path: Path) -> None:
    verdict, events = _run(tmp_path, "garbage")
    gc = [e for e in events if e["event"] == "cleanup" and e["action"] == "gc"]
    assert gc and gc[0]["via"] == "agent", gc
    assert gc[0]["answer"]["data"]["objects_collected"] > 1000, gc
    assert verdict["verdict"] != "LEAK", verdict["reason"]
    grew = [s for s in verdict["series"] if s["reason"].startswith("grew under load, but did not")]
    assert grew, [(s["name"], s["reason"]) for s in verdict["series"]]
    item = _gc_item(verdict)
    assert item["status"] == "PASS" and "heap agent's gc.collect()" in item["evidence"], item


def test_memory_kept_after_the_agents_collection_is_a_leak(tmp_path: Path) -> None:
    verdict, _ = _run(tmp_path, "keep")
    assert verdict["verdict"] == "LEAK", verdict["reason"]
    deciding = next(s for s in verdict["series"] if s["name"] == verdict["deciding_series"])
    assert deciding["kept_bytes_per_request"] > 8192, deciding  # of the 16 KiB it keeps
