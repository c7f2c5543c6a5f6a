"""The code base stays lint-clean (pyflakes, pycodestyle, import order) as configured in pyproject."""

from __future__ import annotations

import shutil
import subprocess

from conftest import REPO


def test_ruff_is_clean():
    ruff = shutil.which("ruff")
    assert ruff, "ruff is part of the test extras"
    proc = subprocess.run([ruff, "check", "host", "tests", "benchmarks"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
