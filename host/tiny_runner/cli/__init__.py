"""The `tiny-runner` command: one small module per subcommand, errors as one line + exit code."""

from __future__ import annotations

import argparse
import signal
import sys

from .. import __version__
from ..errors import TinyRunnerError
from . import analyze, boards, codegen, dataset, demo, detect, firmware, flash, lab, measure, models, monitors

SUBCOMMANDS = (measure, analyze, boards, flash, dataset, models, codegen, firmware, detect, monitors, lab, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tiny-runner",
        description="Measure latency, accuracy and energy of MLPerf Tiny models on microcontrollers.",
    )
    parser.add_argument("--version", action="version", version=f"tiny-runner {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)  # a killed run stops like Ctrl-C: data kept, status written
    try:
        return args.handler(args) or 0
    except TinyRunnerError as exc:
        print(f"tiny-runner: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tiny-runner: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
