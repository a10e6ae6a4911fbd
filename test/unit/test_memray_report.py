"""What a memray capture becomes: its stacks filtered and ranked, the reports that carry them,
and how a profiled run is judged (on memray's heap, not the profiler's own growth)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
from support.synthetic import synthetic_run

from harness.analyze import memray as memray_report
from harness.analyze.analysis import analyze, write_verdict
from harness.analyze.checklist import run_checklist
from harness.analyze.memray import Frame, is_noise, rank, site_of
from harness.analyze.verdict import Rules, judge
from harness.report.flamegraph import render_flamegraph
from harness.report.render import render_reports
from harness.report.schema import VERDICT_SCHEMA
from harness.run.memray import wrap_command
from harness.rundir import CAPTURE, MEMRAY_DIR, RunDirectory, Sample

MIB = 1 << 20


# -- stacks ----------------------------------------------------------------------------------
LEAKS_PY = "/srv/resume_api/leaks.py"
STRNDUP: list[Frame] = [
    ("__GI___strndup", "./string/strndup.c", 43),
    ("ffi_call", "<unknown>", 0),
    ("_ctypes_callproc", "Modules/_ctypes/callproc.c", 1262),
]
RUNPY: Frame = ("_run_module_as_main", "<frozen runpy>", 198)
MEMRAY_CMD: Frame = ("_run_tracker", "/venv/site-packages/memray/commands/run.py", 83)


@dataclass
class FakeRecord:
    size: int
    n_allocations: int
    python: list[Frame]
    native: list[Frame]

    def stack_trace(self) -> Sequence[Frame]:
        return self.python

    def native_stack_trace(self) -> Sequence[Frame]:
        return self.native

    def hybrid_stack_trace(self) -> Sequence[Frame]:
        # memray's shape: native frames, then the Python frames they ran under, innermost first
        return [*self.native, *self.python]


class UnmergeableRecord(FakeRecord):
    def hybrid_stack_trace(self) -> Sequence[Frame]:
        raise AssertionError  # what memray's merge does when frames do not pair up


def _leak(size: int, line: int = 120) -> FakeRecord:
    python = [
        ("leak", LEAKS_PY, line),
        ("dispatch", "/srv/resume_api/middleware.py", 87),
        RUNPY,
        MEMRAY_CMD,
    ]
    return FakeRecord(size, size // 4096, python, STRNDUP)


def _imported(size: int) -> FakeRecord:
    python = [
        ("<module>", "/srv/openai/_client.py", 3),
        ("_call_with_frames_removed", "<frozen importlib._bootstrap>", 241),
        RUNPY,
        MEMRAY_CMD,
    ]
    return FakeRecord(size, 10, python, [("r_object", "Python/marshal.c", 1463)])


def _traced_by_tracemalloc(size: int) -> FakeRecord:
    python = [("handle", "/srv/resume_api/routes/analyze.py", 40), RUNPY, MEMRAY_CMD]
    native = [("tracemalloc_add_trace", "Modules/_tracemalloc.c", 480)]
    return FakeRecord(size, 100, python, native)


def _memray_own(size: int) -> FakeRecord:
    python = [
        ("__set__", "/venv/site-packages/memray/_thread_name_interceptor.py", 20),
        RUNPY,
        MEMRAY_CMD,
    ]
    return FakeRecord(size, 1, python, [("malloc", "<unknown>", 0)])


def test_noise_is_imports_profilers_and_the_agent() -> None:
    for record in (_imported(1), _traced_by_tracemalloc(1), _memray_own(1)):
        assert is_noise(record.python, record.hybrid_stack_trace()), record
    leak = _leak(4096)
    assert not is_noise(leak.python, leak.hybrid_stack_trace())


def test_site_is_the_innermost_python_frame_else_the_first_native_caller() -> None:
    leak = _leak(4096)
    assert site_of(leak.python, leak.hybrid_stack_trace()) == f"{LEAKS_PY}:120 (leak)"
    native_only = [("malloc", "<unknown>", 0), ("SSL_CTX_new", "ssl/ssl_lib.c", 3300)]
    assert site_of([], native_only) == "ssl/ssl_lib.c:3300 (SSL_CTX_new)"


def test_rank_groups_by_site_drops_noise_and_divides_by_requests() -> None:
    records = [
        _leak(3 << 20),
        _leak(1 << 20),  # the same site through another native stack: one suspect
        _imported(8 << 20),
        _traced_by_tracemalloc(2 << 20),
        _memray_own(1 << 10),
        FakeRecord(
            512 << 10, 4, [("startup", "/srv/resume_api/app.py", 30), RUNPY, MEMRAY_CMD], []
        ),
    ]
    sites, total, noise = rank(records, requests=1024)
    assert [s.site for s in sites] == [
        f"{LEAKS_PY}:120 (leak)",
        "/srv/resume_api/app.py:30 (startup)",
    ]
    top = sites[0]
    assert top.bytes == 4 << 20 and top.allocations == (4 << 20) // 4096
    assert top.bytes_per_request == pytest.approx(4096)
    # the largest stack of the site, native frames first, cut at runpy (the same everywhere)
    assert top.frames[0] == "./string/strndup.c:43 (__GI___strndup)"
    assert top.frames[-1] == "/srv/resume_api/middleware.py:87 (dispatch)"
    assert total == sum(r.size for r in records)
    assert noise == (8 << 20) + (2 << 20) + (1 << 10)
    peak_sites, _, _ = rank(records)
    assert peak_sites[0].bytes_per_request is None


def test_a_stack_memray_cannot_merge_keeps_the_c_path_then_the_python_stack() -> None:
    leak = _leak(4096)
    eval_loop = [("_PyEval_EvalFrameDefault", "Python/ceval.c", 4769)]
    coroutines = [("gen_send_ex2", "Objects/genobject.c", 219), *eval_loop] * 30
    odd = UnmergeableRecord(8192, 2, leak.python, [*STRNDUP, *eval_loop, *coroutines])
    sites, total, _ = rank([odd])
    assert total == 8192 and sites[0].site == f"{LEAKS_PY}:120 (leak)"
    frames = sites[0].frames
    assert frames[: len(STRNDUP)] == [f"{f}:{n} ({fn})" for fn, f, n in STRNDUP]
    assert frames[len(STRNDUP)] == f"{LEAKS_PY}:120 (leak)"  # not cut off by 60 C frames
    assert "gen_send_ex2" not in " ".join(frames)
    traced = UnmergeableRecord(1, 1, leak.python, [("tracemalloc_add_trace", "_tracemalloc.c", 1)])
    assert rank([traced])[2] == 1  # noise is still recognised by its native frames


def test_rank_keeps_the_top_n() -> None:
    records = [_leak(1000 * (i + 1), line=i) for i in range(30)]
    sites, _, _ = rank(records, top=5)
    assert [s.bytes for s in sites] == [30000, 29000, 28000, 27000, 26000]


LEAKY = """
import ctypes
libc = ctypes.CDLL(None)
libc.strndup.restype = ctypes.c_void_p
libc.strndup.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
KEEP = []

def leak_native(n):
    for _ in range(n):
        libc.strndup(b"x" * 8192, 8191)

def hold_python(n):
    KEEP.extend(bytearray(1000) for _ in range(n))

leak_native(500)
hold_python(200)
"""


def test_a_real_capture_points_at_the_leaking_function(tmp_path: Path) -> None:
    """memray on a small script (no service): the native leak is the top site, attributed to
    the script's own line, the flamegraph is written, stacks.json reloads."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "samples.csv").write_text("time,requests\n1,0\n2,500\n")
    _capture_of(LEAKY, run_dir)
    script = run_dir / "leaky.py"
    report = memray_report.build(run_dir, render_flamegraph)
    assert report is not None
    assert report.python_allocator == "malloc" and report.native_traces
    top = report.leaks[0]
    assert top.site.startswith(f"{script}:10 (leak_native)"), [s.site for s in report.leaks]
    assert top.allocations == 500 and top.bytes == 500 * 8192
    assert top.bytes_per_request == pytest.approx(8192)
    assert any("strndup" in frame for frame in top.frames)
    assert report.leaks[1].site.startswith(f"{script}:13"), [s.site for s in report.leaks]
    assert report.flamegraph is not None
    page = (run_dir / report.flamegraph).read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html") and "leak_native" in page
    stacks = json.loads((run_dir / MEMRAY_DIR / memray_report.STACKS_JSON).read_text())
    assert memray_report.load_or_build(run_dir) == memray_report.MemrayReport.from_json(stacks)


def test_a_missing_or_unreadable_capture_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    capture = tmp_path / MEMRAY_DIR / CAPTURE
    capture.parent.mkdir()
    capture.write_bytes(b"")  # what a target killed before memray wrote it leaves
    warnings: list[str] = []
    assert memray_report.load_or_build(tmp_path, warnings.append) is None
    assert "no capture was written" in warnings[-1]
    capture.write_bytes(b"not a memray capture" * 100)
    assert memray_report.load_or_build(tmp_path, warnings.append) is None
    assert "memray capture not read" in warnings[-1]


def _capture_of(script_text: str, run_dir: Path) -> None:
    """memray run on a small script, into run_dir's capture path, as the target would be."""
    script = run_dir / "leaky.py"
    script.write_text(textwrap.dedent(script_text))
    capture = run_dir / MEMRAY_DIR / CAPTURE
    capture.parent.mkdir(parents=True, exist_ok=True)
    command = wrap_command(["{python}", str(script)], capture)
    command[0] = sys.executable
    env = {**os.environ, "PYTHONMALLOC": "malloc"}
    subprocess.run(command, check=True, env=env, cwd=run_dir, timeout=120)


def test_reports_carry_the_native_stacks_and_link_the_flamegraph(tmp_path: Path) -> None:
    run_dir = synthetic_run(tmp_path, heap_leak=1024.0)
    _capture_of(LEAKY, run_dir)
    meta = json.loads((run_dir / "run.json").read_text())
    meta["profile"] = {"tool": "memray", "command": ["python", "-m", "memray", "run"]}
    (run_dir / "run.json").write_text(json.dumps(meta))
    analysis = analyze(run_dir, Rules())
    assert analysis.memray is not None
    write_verdict(run_dir, analysis)
    render_reports(run_dir, analysis)
    document = json.loads((run_dir / "verdict.json").read_text())
    jsonschema.validate(document, VERDICT_SCHEMA)
    assert document["memray"]["leaks"][0]["site"].endswith(":10 (leak_native)")
    page = (run_dir / "report.html").read_text()
    assert "href='memray/leaks-flamegraph.html'" in page
    assert "strndup" in page and "(leak_native)" in page
    assert "leak_native" in (run_dir / "summary.md").read_text()


def test_a_run_without_memray_has_no_memray_field(tmp_path: Path) -> None:
    run_dir = synthetic_run(tmp_path)
    document = json.loads(json.dumps(analyze(run_dir, Rules()).to_json()))
    assert "memray" not in document
    jsonschema.validate(document, VERDICT_SCHEMA)


def test_a_profiled_run_whose_target_was_killed_says_so(tmp_path: Path) -> None:
    run_dir = synthetic_run(tmp_path, outcome="oom-killed")
    meta = json.loads((run_dir / "run.json").read_text())
    meta["profile"] = {"tool": "memray", "command": []}
    (run_dir / "run.json").write_text(json.dumps(meta))
    (run_dir / MEMRAY_DIR).mkdir()
    (run_dir / MEMRAY_DIR / CAPTURE).write_bytes(b"")
    analysis = analyze(run_dir, Rules())
    assert analysis.memray is None
    assert any("no capture was written" in note for note in analysis.notes), analysis.notes


def test_memray_sees_the_native_malloc_switch_at_its_own_code(tmp_path: Path) -> None:
    """The bundled service's native leak through libc (PLT-hooked by memray), not a malloc
    resolved by ctypes, which memray cannot see: its blocks are the top site, in leaks.py."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    root = Path(__file__).resolve().parents[2]
    _capture_of(
        f"""
        import sys
        sys.path.insert(0, {str(root)!r})
        from resume_api.leaks import NativeLeak
        native = NativeLeak()
        for _ in range(300):
            native.leak(4096)
        """,
        run_dir,
    )
    report = memray_report.build(run_dir)
    assert report is not None
    top = report.leaks[0]
    assert "resume_api/leaks.py" in top.site and "(leak)" in top.site, report.leaks[:3]
    # the blocks, plus a few bytes ctypes keeps from the first call on that line
    assert 300 * 4096 <= top.bytes < 301 * 4096 and top.allocations >= 300


# -- the verdict of a profiled run ------------------------------------------------------------
def _profiled_run(tmp_path: Path, native_leak: float, profiler_growth: float) -> Path:
    """A run under memray: the process grows by the profiler's own bytes/request on top of
    what the target holds, and memray's heap.csv counts only the latter."""
    rng = random.Random(5)
    run = RunDirectory.create(tmp_path, "profiled", {})
    heap_rows = ["time,rss,heap"]
    for i in range(160):
        requests = i * 20
        wobble = rng.gauss(0, 80_000)
        held = 50 * MIB + native_leak * requests + wobble / 8
        process = 400 * MIB + held + profiler_growth * requests + wobble
        run.sample(
            Sample(
                time=1000.0 + i,
                elapsed_s=float(i),
                phase="warm-up" if i < 10 else "load-1",
                requests=requests,
                failures=0,
                users=4,
                working_set=int(process + 5 * MIB),
                container_anon=int(process),
                rss=int(process),
                app_heap=int(20 * MIB + wobble / 8),
                app_malloc=int(process - 300 * MIB),
                fds=20,
                threads=5,
            )
        )
        for tick in range(4):  # memray's snapshots are finer than the samples
            heap_rows.append(f"{1000.0 + i + tick / 4 - 0.75:.2f},{int(process)},{int(held)}")
    run.close()
    (run.path / MEMRAY_DIR).mkdir()
    (run.path / MEMRAY_DIR / memray_report.HEAP_CSV).write_text("\n".join(heap_rows) + "\n")
    return run.path


def test_profiled_clean_run_judges_memrays_heap_not_the_profilers_own_growth(
    tmp_path: Path,
) -> None:
    verdict = judge(_profiled_run(tmp_path, native_leak=0, profiler_growth=8192), Rules())
    assert verdict.verdict == "NO LEAK", verdict.reason
    assert "heap (memray)" in verdict.reason
    shown = {s.name: s for s in verdict.series}
    for name in ("container_anon", "rss", "app_malloc", "working_set"):
        assert not shown[name].leaking and "memray's own memory" in shown[name].reason
        assert not shown[name].judged
    assert shown["memray_heap"].trend is not None and shown["memray_heap"].judged


def test_profiled_native_leak_is_a_leak_in_memrays_heap_class_native(tmp_path: Path) -> None:
    verdict = judge(_profiled_run(tmp_path, native_leak=4096, profiler_growth=8192), Rules())
    assert verdict.verdict == "LEAK", verdict.reason
    assert verdict.deciding_series == "memray_heap"
    assert verdict.bytes_per_request == pytest.approx(4096, rel=0.05)
    assert "native" in verdict.classes


def test_without_a_heap_series_the_process_series_are_judged_as_before(tmp_path: Path) -> None:
    run_dir = _profiled_run(tmp_path, native_leak=0, profiler_growth=8192)
    (run_dir / MEMRAY_DIR / memray_report.HEAP_CSV).unlink()
    verdict = judge(run_dir, Rules())
    assert verdict.verdict == "LEAK" and verdict.deciding_series != "memray_heap"


def test_checklist_skips_memory_figures_of_a_profiled_run(tmp_path: Path) -> None:
    run_dir = _profiled_run(tmp_path, native_leak=0, profiler_growth=8192)
    meta = json.loads((run_dir / "run.json").read_text())
    meta["profile"] = {"tool": "memray", "command": []}
    meta["startup"] = {"working_set": 900 * MIB}  # over 500 MB, because of memray
    (run_dir / "run.json").write_text(json.dumps(meta))
    items = {i.name: i for i in run_checklist(run_dir, judge(run_dir, Rules()))}
    startup = items["startup memory < 500 MB"]
    assert startup.status == "SKIP" and "900.0 MB" in startup.evidence
    assert "profiled with memray" in startup.evidence
    assert items["all memory leak tests pass"].status == "PASS"
