"""Scenarios: a named load shape with its timing, read from a TOML file, planned as stages.

A stage is a stretch of time at a fixed user count, labelled with the phase it belongs to;
the Locust shape follows the stages and the sampler labels every sample with the phase, so
the load and the memory series agree on what happened when."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.errors import UsageError

#: package data (harness/scenarios/), found through the package so an installed wheel has it;
#: a real directory, as Locust loads the default locustfile in it by path
SCENARIO_DIR = Path(str(resources.files("harness") / "scenarios"))

Shape = Literal["steady", "stress", "spike", "cycles", "soak"]
#: the profiler a run puts the target under (memray: native stacks; see harness/run/memray.py)
Profile = Literal["none", "memray"]
PROFILES: tuple[str, ...] = ("none", "memray")


class ScenarioError(UsageError, ValueError):
    """Unknown scenario or a scenario file that does not parse; says what to fix."""


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    startup_mb: float = 500.0
    peak_mb: float = 1500.0
    max_failure_ratio: float = 0.01
    # growth under this is not called a leak; "limit": the leak that reaches
    # container_limit_mb within time_to_limit_h at production_rps (harness/analyze/horizon.py)
    leak_bytes_per_request: float | Literal["limit"] = 256.0
    min_leak_growth_mb: float = 1.0  # nor growth of less than this over the whole window
    production_rps: float = 20.0  # for the projected time to the container limit
    container_limit_mb: float = 2048.0  # CONTAINER_MEMORY_LIMIT_MB
    time_to_limit_h: float = Field(default=168.0, gt=0)  # the horizon every verdict is told in


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    shape: Shape = "steady"
    users: int = Field(default=8, ge=1)
    spawn_rate: float = Field(default=4.0, gt=0)
    warmup_s: float = Field(default=20.0, ge=0)
    duration_s: float = Field(default=60.0, gt=0)  # measured load (per cycle for `cycles`)
    # steady: the load goes on past duration_s, up to this, until a leak is ruled out;
    # judged at duration_s, twice it, four times it, ... and at max (`look_times`)
    max_duration_s: float | None = Field(default=None, gt=0)
    cycles: int = Field(default=1, ge=1)
    idle_s: float = Field(default=0.0, ge=0)  # idle after each cycle (the app's GC runs in it)
    cleanup_s: float = Field(default=10.0, ge=0)  # idle after load, after GC + clear-cache
    sample_interval_s: float = Field(default=1.0, ge=0.2)
    # tracemalloc costs the service CPU (frames=1: ~3x slower on the bundled service; deeper
    # tracebacks cost more); 1 frame gives file:line, raise it for an analyze run
    tracemalloc_frames: int = Field(default=1, ge=0, le=100)  # 0: no heap tracing
    # memray: the target runs under `memray run` (native stacks of what it still holds at
    # exit; slower service, growth is judged per request all the same)
    profile: Profile = "none"
    # stress: users grow by step_users every step_s until max_users
    step_users: int = Field(default=4, ge=1)
    step_s: float = Field(default=20.0, gt=0)
    max_users: int = Field(default=64, ge=1)
    # spike: `users` as the base, spike_users for spike_s in the middle of each cycle
    spike_users: int = Field(default=48, ge=1)
    spike_s: float = Field(default=15.0, gt=0)
    thresholds: Thresholds = Field(default_factory=Thresholds)

    @model_validator(mode="after")
    def _coherent(self) -> Scenario:
        if self.shape == "spike" and self.spike_s >= self.duration_s:
            raise ValueError("spike_s must be shorter than duration_s")
        if self.max_duration_s is not None:
            if self.shape != "steady":
                raise ValueError("max_duration_s is for a steady scenario (one load phase)")
            if self.max_duration_s < self.duration_s:
                raise ValueError("max_duration_s must be at least duration_s")
        if self.shape == "cycles" and self.idle_s <= 0:
            raise ValueError("a cycles scenario needs idle_s > 0 (the app's GC runs in the idle)")
        return self


@dataclass(frozen=True)
class Stage:
    phase: str  # warm-up, load-1, idle-1, ... (samples carry it)
    duration_s: float
    users: int
    spawn_rate: float


def plan(scenario: Scenario) -> list[Stage]:
    """The stages Locust will follow, in order."""
    s = scenario
    stages = [Stage("warm-up", s.warmup_s, s.users, s.spawn_rate)] if s.warmup_s > 0 else []
    if s.shape == "stress":
        users, step = s.users, 1
        while users <= s.max_users:
            stages.append(Stage(f"load-{step}", s.step_s, users, s.spawn_rate))
            users += s.step_users
            step += 1
        return stages
    cycles = s.cycles if s.shape == "cycles" else 1
    for cycle in range(1, cycles + 1):
        load = f"load-{cycle}"
        if s.shape == "spike":
            calm = (s.duration_s - s.spike_s) / 2
            stages.append(Stage(load, calm, s.users, s.spawn_rate))
            stages.append(Stage(load, s.spike_s, s.spike_users, max(s.spawn_rate, 50.0)))
            stages.append(Stage(load, calm, s.users, max(s.spawn_rate, 50.0)))
        else:
            stages.append(Stage(load, s.max_duration_s or s.duration_s, s.users, s.spawn_rate))
        if s.idle_s > 0 and (s.shape == "cycles" or cycle < cycles):
            stages.append(Stage(f"idle-{cycle}", s.idle_s, 0, s.spawn_rate))
    return stages


def look_times(scenario: Scenario) -> list[float]:
    """Seconds into the measured load at which a run that may stop once it can decide judges
    itself: duration_s, doubling, and max_duration_s last (none: a run of fixed length). Few
    looks, because each spends a share of the error budgets (harness/analyze/growth.py)."""
    if scenario.max_duration_s is None or scenario.max_duration_s <= scenario.duration_s:
        return []
    looks, at = [], scenario.duration_s
    while at * 1.5 <= scenario.max_duration_s:  # no look just before the last
        looks.append(at)
        at *= 2
    return [*looks, scenario.max_duration_s]


def available() -> list[str]:
    return sorted(path.stem for path in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str) -> Scenario:
    """A scenario by name (harness/scenarios/<name>.toml) or by path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = SCENARIO_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        raise ScenarioError(
            f"unknown scenario {name_or_path!r}; choose one of {', '.join(available())} "
            "or give the path of a .toml file"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None
    data.setdefault("name", path.stem)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'scenario'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ScenarioError(f"{path}: {problems}") from None
