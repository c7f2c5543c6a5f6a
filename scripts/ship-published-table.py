"""Regenerate the published results table the package ships, from the reference data's copy.

    python scripts/ship-published-table.py [CSV]

CSV defaults to $TINY_RUNNER_MODEL_DIR/mlperf_tiny_results.csv. The file is checked as
`tiny-runner published update` checks one (every column, every row's source), then copied
byte for byte, so the source columns and the values' provenance stay as published.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tiny_runner.errors import TinyRunnerError
from tiny_runner.published.table import FILE_NAME, read_table

SHIPPED = Path(__file__).resolve().parent.parent / "host" / "tiny_runner" / "published" / FILE_NAME


def main() -> None:
    if len(sys.argv) > 1:
        source = Path(sys.argv[1])
    elif os.environ.get("TINY_RUNNER_MODEL_DIR"):
        source = Path(os.environ["TINY_RUNNER_MODEL_DIR"]) / FILE_NAME
    else:
        sys.exit("usage: ship-published-table.py CSV (or set TINY_RUNNER_MODEL_DIR)")
    try:
        rows = read_table(source)
    except TinyRunnerError as exc:
        sys.exit(f"ship-published-table: {exc.message}")
    shutil.copyfile(source, SHIPPED)
    print(f"{SHIPPED}: {len(rows)} rows from {source}")


if __name__ == "__main__":
    main()
