"""The `tiny-runner` command: one small module per subcommand, errors as one line + exit code."""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import TinyRunnerError
from ..run import stopping

SUBCOMMANDS = ("measure", "analyze", "boards", "flash", "dataset", "models", "codegen", "firmware", "detect",
               "monitors", "benchmarks", "lab", "demo", "results", "campaign", "published", "compare")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tiny-runner",
        description="Measure latency, accuracy and energy of MLPerf Tiny models on microcontrollers.",
    )
    parser.add_argument("--version", action="version", version=f"tiny-runner {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C may come while the subcommands' modules load: that too ends in one line
    try:
        stopping.install_handlers()
        args = build_parser().parse_args(argv)
        return args.handler(args) or 0
    except KeyboardInterrupt as exc:
        stopping.ignore_further()
        state, _ = stopping.how_stopped(exc)
        print(f"tiny-runner: {state}", file=sys.stderr)
        return 130 if state == "interrupted" else 143
    except TinyRunnerError as exc:
        stopping.ignore_further()
        print(f"tiny-runner: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 1
