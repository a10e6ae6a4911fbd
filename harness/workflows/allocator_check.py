"""The allocator diagnosis' reruns: the diagnosed run's scenario, target, backend and limits
again, once per allocator setting that gives freed memory back, each into
<run>/allocator/<setting>/ (a run directory of its own, out of the history and the trend), then
judged against the diagnosed run (harness/analyze/allocator.py) into <run>/allocator.json.

The settings, for glibc's usual ways of keeping freed memory:

- `glibc-tuned`: MALLOC_ARENA_MAX=2 (threads share two arenas instead of up to 8 per core,
  each keeping its own freed memory), MALLOC_MMAP_THRESHOLD_=131072 and
  MALLOC_TRIM_THRESHOLD_=131072 (the defaults, but fixed: setting either turns off the dynamic
  threshold that lets large buffers into the heap once a large block was freed, so buffers
  over 128 KiB get mappings of their own, unmapped when freed, and the heap's top is given back
  past 128 KiB). In the environment, so any glibc target honours it, in any backend.
- `jemalloc`: LD_PRELOAD of Debian's libjemalloc2 (libjemalloc.so.2), which returns freed pages
  to the system on its own; tried where the library is installed and the target is a local
  process (cgroup, process backends), skipped with the reason otherwise.

malloc_trim(0) needs no rerun: every run's cleanup calls the app's GC endpoint (the bundled
service's calls it), and what the cleanup gave back is part of each run's evidence."""

from __future__ import annotations

import os
import platform
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.analyze.allocator import (
    NOT_RUN,
    Diagnosis,
    Growth,
    Skipped,
    Tried,
    decide,
    judge_setting,
    measure,
    needs_diagnosis,
    write_diagnosis,
)
from harness.analyze.verdict import rules_from_run
from harness.errors import UsageError
from harness.load.scenario import Scenario
from harness.run.config import RunSettings
from harness.run.leak_run import LeakRun
from harness.run.progress import Display
from harness.rundir import profiled_run, read_meta

ALLOCATOR_DIR = "allocator"
GLIBC_TUNED = "glibc-tuned"
JEMALLOC = "jemalloc"
SETTINGS: tuple[str, ...] = (GLIBC_TUNED, JEMALLOC)
#: what the target's environment may already say about its allocator
ALLOCATOR_ENV = ("MALLOC_", "GLIBC_TUNABLES", "LD_PRELOAD")


class AllocatorCheckError(UsageError, ValueError):
    """This run cannot be diagnosed by rerunning it; says why (a usage error)."""


@dataclass(frozen=True)
class AllocatorSetting:
    name: str
    description: str
    env: dict[str, str]


TUNED = AllocatorSetting(
    GLIBC_TUNED,
    "glibc with 2 arenas and fixed 128 KiB mmap and trim thresholds",
    {
        "MALLOC_ARENA_MAX": "2",
        "MALLOC_MMAP_THRESHOLD_": "131072",
        "MALLOC_TRIM_THRESHOLD_": "131072",
    },
)


def find_jemalloc() -> Path | None:
    """Debian's libjemalloc2 (or a build installed under /usr/local), or None."""
    multiarch = sysconfig.get_config_var("MULTIARCH") or f"{platform.machine()}-linux-gnu"
    for directory in (f"/usr/lib/{multiarch}", "/usr/lib64", "/usr/lib", "/usr/local/lib"):
        path = Path(directory) / "libjemalloc.so.2"
        if path.is_file():
            return path
    return None


def resolve(name: str, backend: str, target_env: Mapping[str, str]) -> AllocatorSetting | str:
    """The setting to rerun with, or why it cannot be tried here."""
    if name == GLIBC_TUNED:
        return TUNED
    if name != JEMALLOC:
        raise AllocatorCheckError(
            f"unknown allocator setting {name!r}; known: {', '.join(SETTINGS)}"
        )
    if backend not in ("cgroup", "process"):
        return (
            f"LD_PRELOAD needs the library inside the {backend} target; tried on the cgroup "
            "and process backends only"
        )
    library = find_jemalloc()
    if library is None:
        return "libjemalloc.so.2 is not installed (Debian: apt-get install libjemalloc2)"
    preload = target_env.get("LD_PRELOAD") or os.environ.get("LD_PRELOAD") or ""
    return AllocatorSetting(
        JEMALLOC,
        f"jemalloc ({library}) preloaded",
        {"LD_PRELOAD": " ".join(filter(None, (str(library), preload)))},
    )


def recorded_backend(meta: Mapping[str, object]) -> str:
    """The backend the run really used (`auto` resolved)."""
    target = meta.get("target_backend")
    settings = meta.get("settings")
    found = target.get("backend") if isinstance(target, dict) else None
    if not found and isinstance(settings, dict):
        found = settings.get("backend")
    return str(found or "auto")


def check(meta: Mapping[str, object]) -> str:
    """The backend to rerun on; raises AllocatorCheckError for a run that cannot be rerun."""
    backend = recorded_backend(meta)
    if backend == "remote":
        raise AllocatorCheckError(
            "a remote service cannot be restarted with other allocator settings; rerun its "
            "scenario on the cgroup, process or docker backend"
        )
    if profiled_run(meta):
        raise AllocatorCheckError(
            "the run was profiled with memray, whose own memory grows with the run in RSS; "
            "diagnose a run without --profile"
        )
    return backend


def _configured_allocator(settings: RunSettings) -> dict[str, str]:
    env = {**os.environ, **settings.target.env}
    return {k: v for k, v in env.items() if k.startswith(ALLOCATOR_ENV)}


def rerun(
    settings: RunSettings,
    scenario: Scenario,
    run_dir: Path,
    setting: AllocatorSetting,
    display: Display,
) -> tuple[Path, str, str]:
    """One rerun with the setting in the target's environment: (run directory, status, error)."""
    target = settings.target.model_copy(update={"env": {**settings.target.env, **setting.env}})
    changed = settings.model_copy(
        update={"out": run_dir / ALLOCATOR_DIR / setting.name, "target": target, "profile": None}
    )
    result = LeakRun(changed, scenario.model_copy(update={"profile": "none"}), display).execute()
    return result.run_dir, result.status, str(result.detail.get("error") or "")


def diagnose(
    run_dir: Path,
    settings: RunSettings,
    scenario: Scenario,
    names: Sequence[str],
    display: Display,
) -> Diagnosis:
    """Rerun with each setting (when resident memory grows and the heap does not explain it),
    judge, and write allocator.json into run_dir."""
    meta = read_meta(run_dir)
    backend = check(meta)
    settings = settings.model_copy(update={"backend": backend})
    rules = rules_from_run(run_dir)
    configured = _configured_allocator(settings)
    label = "the configured allocator" if configured else "glibc defaults"
    before: Growth = measure(run_dir, label, configured, run_dir)
    resident, _, why = needs_diagnosis(before, rules)
    tried: list[Tried] = []
    skipped: list[Skipped] = []
    if resident is None:
        display.message(f"allocator diagnosis: no rerun, {why}")
        diagnosis = decide(before, tried, skipped, rules)
        write_diagnosis(run_dir, diagnosis)
        return diagnosis
    for name in names:
        setting = resolve(name, backend, settings.target.env)
        if isinstance(setting, str):
            display.message(f"allocator diagnosis: {name} skipped, {setting}")
            skipped.append(Skipped(name, setting))
            continue
        shown = " ".join(f"{k}={v}" for k, v in setting.env.items())
        display.message(f"allocator diagnosis: the scenario again with {shown}")
        path, status, error = rerun(settings, scenario, run_dir, setting, display)
        if status == "error":
            reason = f"the rerun could not run: {error or 'see its run directory'}"
            tried.append(Tried(name, setting.description, setting.env, NOT_RUN, reason, None))
            continue
        after = measure(path, name, setting.env, run_dir)
        tried.append(
            judge_setting(before, resident, rules, name, setting.description, setting.env, after)
        )
    diagnosis = decide(before, tried, skipped, rules)
    write_diagnosis(run_dir, diagnosis)
    return diagnosis
