"""The `leak-harness` command line: one subcommand per stage of the pipeline."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness import __version__

EXIT_OK = 0
EXIT_USAGE = 2


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

    from harness.commands import analyze, compare, doctor, run

    run.add_arguments(
        commands.add_parser("run", help="boot the target, drive load, sample into a run directory")
    )
    analyze.add_arguments(commands.add_parser("analyze", help="re-read a run directory"))
    compare.add_arguments(commands.add_parser("compare", help="does run B leak more than run A"))
    doctor.add_arguments(commands.add_parser("doctor", help="which backends work here"))
    from harness.commands import trend

    trend.add_arguments(commands.add_parser("trend", help="leak rate, memory, req/s across runs"))
    stub = commands.add_parser("stub", help="run a fake upstream service on loopback")
    stubs = stub.add_subparsers(dest="stub", metavar="UPSTREAM", required=True)
    from harness.upstream import cli as upstream_cli

    upstream_cli.add_arguments(
        stubs.add_parser("azure-openai", help="fake Azure OpenAI (chat completions, embeddings)")
    )
    from harness.commands import signoff, suite

    suite.add_arguments(commands.add_parser("suite", help="run scenarios in turn and index them"))
    signoff.add_arguments(commands.add_parser("signoff", help="release sign-off: GO / NO-GO"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _dispatch(argv)
    except BrokenPipeError:  # `leak-harness analyze | head`: the reader left, not an error
        sys.stderr.close()
        return 0


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.command in ("run", "analyze", "compare", "doctor"):
        from harness.commands import analyze, compare, doctor, run

        module = {"run": run, "analyze": analyze, "compare": compare, "doctor": doctor}[
            args.command
        ]
        code: int = module.run(args)
        return code
    if args.command == "trend":
        from harness.commands import trend

        return trend.run(args)
    if args.command == "stub":
        from harness.upstream import cli as upstream_cli

        return upstream_cli.run(args)
    if args.command in ("suite", "signoff"):
        from harness.commands import signoff, suite

        code = {"suite": suite, "signoff": signoff}[args.command].run(args)
        return code
    parser.error(f"unknown command {args.command!r}")
    return EXIT_USAGE  # pragma: no cover - parser.error exits
