"""A non-editable install carries the board descriptors, the firmware sources and the published results
table, and works from any directory."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO

# What `tiny-runner codegen` and a firmware build need from the installed copy.
FIRMWARE_ESSENTIALS = ("Makefile", "core/tr_harness.c", "nn/tr_nn.c", "nn/tr_nn.h", "model/tr_model_port.c",
                       "ports/posix/main.c")
FIRMWARE_PATTERNS = ("*.c", "*.h", "*.mk", "*.ld", "Makefile", "README.md")

# Run with -S so the development install's path hooks stay out: only the installed copy imports.
PROBE = """
import sys
sys.path[:0] = [sys.argv[1]] + sys.argv[2].split(":")
import tiny_runner
print(tiny_runner.__file__)
from tiny_runner.image.tree import firmware_source_dir
print(firmware_source_dir())
from tiny_runner.cli import main
raise SystemExit(main(["boards"]))
"""


def test_wheel_install_ships_boards_and_firmware_and_runs_anywhere(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    assert (target / "tiny_runner" / "board_files" / "virtual-l4r5zi.toml").is_file()
    table = "tiny_runner/published/mlperf_tiny_results.csv"  # the published results, shipped as public data
    assert (target / table).read_bytes() == (REPO / "host" / table).read_bytes()
    source = {p.relative_to(REPO / "host").as_posix() for p in (REPO / "host").rglob("*.py")}
    source |= {p.relative_to(REPO).as_posix() for p in (REPO / "energy_monitor").rglob("*.py")}
    installed = {p.relative_to(target).as_posix() for top in ("tiny_runner", "energy_monitor")
                 for p in (target / top).rglob("*.py")}
    assert source <= installed, f"modules missing from the wheel: {sorted(source - installed)}"
    firmware = target / "tiny_runner" / "firmware_files"
    for name in FIRMWARE_ESSENTIALS:
        assert (firmware / name).is_file(), f"firmware/{name} missing from the wheel"
    sources = {p.relative_to(REPO / "firmware").as_posix() for pattern in FIRMWARE_PATTERNS
               for p in (REPO / "firmware").rglob(pattern)}
    shipped = {p.relative_to(firmware).as_posix() for p in firmware.rglob("*") if p.is_file()}
    assert sources <= shipped, f"firmware files missing from the wheel: {sorted(sources - shipped)}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dependencies = ":".join(p for p in sys.path if p.endswith("site-packages"))
    proc = subprocess.run([sys.executable, "-S", "-c", PROBE, str(target), dependencies], cwd=elsewhere,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": ""})
    assert proc.returncode == 0, proc.stderr
    installed_at, firmware_at, listing = proc.stdout.split("\n", 2)
    assert installed_at.startswith(str(target))
    assert firmware_at == str(firmware)
    assert "virtual-l4r5zi" in listing


def test_a_source_checkout_uses_its_own_firmware_folder():
    from tiny_runner.image.tree import firmware_source_dir

    assert firmware_source_dir().resolve() == (REPO / "firmware").resolve()


def test_ci_runs_exactly_the_readme_test_command_and_that_command_installs_the_toolchains():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2, commands
    test_command = commands[1]
    ci = [line for line in (REPO / ".ci/run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == test_command
    setup = (REPO / "scripts/setup-tests.sh").read_text()
    assert test_command.startswith("bash scripts/setup-tests.sh && ")
    for package in ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm", "python3-venv", "ser2net"):
        assert package in setup
    assert ".venv/bin/pip install -q -e '.[test]'" in setup
