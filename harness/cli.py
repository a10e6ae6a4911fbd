"""The `leak-harness` command line: one subcommand per stage of the pipeline."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from harness import __version__, console
from harness.errors import UsageError
from harness.exit_codes import ExitCode

#: set to see the traceback of an internal error
DEBUG_ENV = "LEAK_HARNESS_DEBUG"

#: the pipeline's commands, in the order --help lists them: harness/commands/<name>.py each
#: (dashes as underscores)
COMMANDS = {
    "run": "boot the target, drive load, sample into a run directory",
    "analyze": "judge a run directory and render its reports",
    "compare": "does run B leak more than run A (the pull-request check)",
    "diagnose-allocator": "RSS grows, heap flat: native leak or allocator retention (reruns)",
    "trend": "leak rate, memory, req/s across runs; regressions flagged",
    "suite": "run scenarios in turn and index them (the nightly job)",
    "signoff": "release sign-off: GO / NO-GO",
    "doctor": "which backends work here",
}


def _command_module(name: str) -> Any:
    return importlib.import_module(f"harness.commands.{name.replace('-', '_')}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leak-harness",
        description=(
            "Memory-leak tests and benchmarks for Python web services in memory-limited "
            "containers: boot the target in a limited sandbox, drive it with Locust, sample "
            "its memory, decide leak or no leak, and report."
        ),
    )
    parser.add_argument("--version", action="version", version=f"leak-harness {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    for name, summary in COMMANDS.items():
        command = commands.add_parser(name, help=summary)
        command.set_defaults(prog=command.prog)  # "leak-harness NAME": how it signs messages
        _command_module(name).add_arguments(command)
    stub = commands.add_parser("stub", help="run a fake upstream service on loopback")
    stubs = stub.add_subparsers(dest="stub", metavar="UPSTREAM", required=True)
    from harness.upstream import cli as upstream_cli

    upstream_cli.add_arguments(
        stubs.add_parser("azure-openai", help="fake Azure OpenAI (chat completions, embeddings)")
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The exit code is the command's; a command that did its work but whose reader left
    (`leak-harness analyze | head`) exits 141, as a shell shows a process ended by SIGPIPE."""
    console.guard()
    code = _dispatch(argv)
    return ExitCode.BROKEN_PIPE if code == ExitCode.OK and console.lost() else code


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    if args.command == "stub":
        from harness.upstream import cli as upstream_cli

        return upstream_cli.main(args)
    if args.command in COMMANDS:
        try:
            code: int = _command_module(args.command).main(args)
        except UsageError as exc:  # bad input: one line that says what to fix
            print(f"{args.prog}: {exc}", file=sys.stderr)
            return ExitCode.USAGE
        except OSError as exc:  # a path given that cannot be read or written
            print(f"{args.prog}: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
            return ExitCode.USAGE
        except KeyboardInterrupt:  # Ctrl-C outside a run (which handles its own)
            print(f"{args.prog}: interrupted", file=sys.stderr)
            return ExitCode.INTERRUPTED
        except Exception as exc:  # a bug: one line, the traceback only when asked for
            if os.environ.get(DEBUG_ENV):
                traceback.print_exc()
            print(
                f"{args.prog}: internal error: {type(exc).__name__}: {exc} "
                f"(set {DEBUG_ENV}=1 for the traceback, and please report it)",
                file=sys.stderr,
            )
            return ExitCode.INTERNAL
        return int(code)
    parser.error(f"unknown command {args.command!r}")
    return ExitCode.USAGE  # pragma: no cover - parser.error exits
