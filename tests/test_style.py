"""The code base stays lint-clean (pyflakes, pycodestyle, import order) as configured in pyproject."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_ruff_is_clean():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "host", "tests", "benchmarks"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
