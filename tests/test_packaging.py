"""A non-editable install carries the board descriptors and works from any directory."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO

# Run with -S so the development install's path hooks stay out: only the installed copy imports.
PROBE = """
import sys
sys.path[:0] = [sys.argv[1]] + sys.argv[2].split(":")
import tiny_runner
print(tiny_runner.__file__)
from tiny_runner.cli import main
raise SystemExit(main(["boards"]))
"""


def test_wheel_install_ships_boards_and_runs_anywhere(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    assert (target / "tiny_runner" / "board_files" / "virtual-l4r5zi.toml").is_file()
    source = {p.relative_to(REPO / "host").as_posix() for p in (REPO / "host").rglob("*.py")}
    source |= {p.relative_to(REPO).as_posix() for p in (REPO / "energy_monitor").rglob("*.py")}
    installed = {p.relative_to(target).as_posix() for top in ("tiny_runner", "energy_monitor")
                 for p in (target / top).rglob("*.py")}
    assert source <= installed, f"modules missing from the wheel: {sorted(source - installed)}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dependencies = ":".join(p for p in sys.path if p.endswith("site-packages"))
    proc = subprocess.run([sys.executable, "-S", "-c", PROBE, str(target), dependencies], cwd=elsewhere,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": ""})
    assert proc.returncode == 0, proc.stderr
    installed_at, listing = proc.stdout.split("\n", 1)
    assert installed_at.startswith(str(target))
    assert "virtual-l4r5zi" in listing
