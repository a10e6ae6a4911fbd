"""The options of one run, declared once: `leak-harness run` takes them all, `suite` and
`signoff` take them too and pass them to every run they start, as command-line words."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.run.config import BACKENDS


@dataclass(frozen=True)
class RunOption:
    """An option of `leak-harness run`, as the parser adds it and as a suite passes it on."""

    flag: str
    dest: str
    kind: type
    help: str
    metavar: str | None = None
    repeat: bool = False


RUN_OPTIONS = (
    RunOption("--backend", "backend", str, "where the target runs (default auto)"),
    RunOption(
        "--leak",
        "leaks",
        str,
        "switch on a leak of the bundled service (repeatable), e.g. unbounded-cache:4KiB",
        "NAME[:RATE]",
        True,
    ),
    RunOption(
        "--memory-limit",
        "memory_limit",
        str,
        "container memory limit, e.g. 2g (default 2g)",
        "SIZE",
    ),
    RunOption("--cpus", "cpus", float, "CPU limit of the target (default 1)"),
    RunOption("--duration", "duration_s", float, "measured load", "SECONDS"),
    RunOption(
        "--max-duration",
        "max_duration_s",
        float,
        "a steady load goes on up to this until a leak is ruled out",
        "SECONDS",
    ),
    RunOption("--users", "users", int, "concurrent Locust users"),
    RunOption(
        "--sample-interval", "sample_interval_s", float, "between samples (>= 0.2)", "SECONDS"
    ),
    RunOption(
        "--tracemalloc-frames",
        "tracemalloc_frames",
        int,
        "traceback depth of heap snapshots (0: off)",
        "N",
    ),
    RunOption("--config", "config", Path, "settings file (default leak-harness.toml)"),
    RunOption("--locustfile", "locustfile", Path, "your own Locust users"),
    RunOption("--host", "host", str, "an already running service (remote backend)", "URL"),
)


def add_run_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    for option in RUN_OPTIONS:
        extra: dict[str, Any] = {"choices": BACKENDS} if option.dest == "backend" else {}
        if option.metavar:
            extra["metavar"] = option.metavar
        parser.add_argument(
            option.flag,
            dest=option.dest,
            type=option.kind,
            action="append" if option.repeat else "store",
            help=option.help,
            **extra,
        )


def add_passed_on(parser: argparse.ArgumentParser) -> None:
    """The run options of a command that starts runs and passes them on to every one."""
    add_run_options(
        parser.add_argument_group("passed to every run (see `leak-harness run --help`)")
    )


def run_option_words(args: argparse.Namespace) -> list[str]:
    """The run options given, as command-line words for `leak-harness run`."""
    words: list[str] = []
    for option in RUN_OPTIONS:
        value = getattr(args, option.dest, None)
        for one in (value if option.repeat else [value]) if value is not None else []:
            words += [option.flag, str(one)]
    return words


def run_option_values(args: argparse.Namespace) -> dict[str, Any]:
    """The run options given, by settings name (the settings file is not one of them)."""
    return {o.dest: getattr(args, o.dest, None) for o in RUN_OPTIONS if o.dest != "config"}
