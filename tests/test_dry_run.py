"""`measure --mode energy --dry-run`: a real board's DUT on its own port behind the virtual lab's
emulated pass-through board and monitor. The "real" DUT here is tiny-runner's C firmware, energy
build, as a native process on a pty (what a board's USB-UART looks like to the host); it reports
its own timestamp pin ("pin <level> <µs>", CLOCK_MONOTONIC), which is the ground truth for
where the dry run placed the window edges from the UART lines.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from conftest import assert_one_line_error, require_tools, run_cli

BOARD = "nucleo-l4r5zi"  # a real board: energy build at 9600 baud
DONE_LINE_S = len(b"m-infer-done\r\n") * 10 / 9600  # taken off the end edge as the line's wire time
EDGE_TOLERANCE_S = 0.015  # the host's scheduling of a thread reading a pty, on a loaded 2-core machine


@pytest.fixture(scope="module")
def energy_dut(tmp_path_factory, reference):
    """The energy build of the C firmware running on a pty: (its port, the file its pin goes to)."""
    require_tools("cc", "make", "size")
    env = {"TINY_RUNNER_CACHE": str(tmp_path_factory.mktemp("firmware-cache")), "TINY_RUNNER_MODEL_DIR": str(reference)}
    built = run_cli("firmware", "--board", "native-posix", "-b", "kws", "--mode", "energy", "--json", env=env)
    assert built.code == 0, built.stderr
    pins = tmp_path_factory.mktemp("dut") / "pins.txt"
    with open(pins, "w") as out:
        proc = subprocess.Popen([built.json()["path"]], stdin=subprocess.PIPE, stdout=out)
    deadline = time.monotonic() + 10
    while not (first := pins.read_text().split("\n", 1)[0]).startswith("ready ") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.startswith("ready "), (first, proc.poll())
    yield first.split()[1], pins
    proc.stdin.close()  # it ends when its stdin closes
    proc.wait(timeout=5)


def pulses(pins: Path) -> list[float]:
    """The firmware's falling edges, seconds."""
    return [int(line.split()[2]) / 1e6 for line in pins.read_text().splitlines() if line.startswith("pin 0 ")]


def dry_run(cli, tmp_path, *args, code=3):
    result = cli("measure", "--board", BOARD, "--mode", "energy", "--dry-run", "-b", "kws", "--iterations", "60",
                 "--out", str(tmp_path), "--json", "--quiet", *args)
    assert result.code == code, result.stderr
    return result.json()


def test_a_dry_run_goes_through_an_energy_run_and_is_never_valid(cli, tmp_path, energy_dut, reference):
    port, pins = energy_dut
    before = len(pulses(pins))
    data = dry_run(cli, tmp_path, "--dut", port, "--monitor", "ppk2")
    assert data["status"] == "completed" and data["valid"] is False
    assert any("dry run of the wiring" in text for text in data["violations"])
    # the DUT is the real one, found through the emulated pass-through board; its energy build answered
    assert data["dut"]["virtual"] is False and data["dut"]["model_id"] == "kws01"
    assert data["dut"]["firmware_mode"] == "energy" and data["dut"]["url"].startswith("ifboard:")
    assert data["lab"]["dry_run"] is True and data["lab"]["dut"] == port and data["lab"]["monitor"] == "ppk2"
    assert data["monitor"]["model"].startswith("PPK2")

    # window edges from the UART lines against the firmware's own pin: the last 10 pulses are the 5 windows
    fired = pulses(pins)[before:]
    truth = [end - start for start, end in zip(fired[-10::2], fired[-9::2])]
    measured = [w["seconds"] for w in data["windows"]]
    assert len(measured) == 5 and all(w["inferences"] == 60 for w in data["windows"])
    for got, expected in zip(measured, truth):
        assert abs(got - (expected - DONE_LINE_S)) < EDGE_TOLERANCE_S, (measured, truth)
    # the energy is the emulation's, consistent with the emulated physics
    assert data["lab"]["truth"]["max_abs_error_pct"] < 1.0

    run_dir = Path(data["run_dir"])
    results_txt = (run_dir / "results.txt").read_text()
    assert "Median energy cost is" not in results_txt and "dry run of the wiring" in results_txt
    assert "emulated ifboard and ppk2" in cli("analyze", str(run_dir)).stdout


@pytest.mark.parametrize("named_in", ["options", "bench file"])
def test_a_port_that_is_not_there_is_one_error(cli, tmp_path, reference, named_in):
    port = str(tmp_path / "no-such-tty")
    if named_in == "options":
        where = ["--board", BOARD, "--dut", port]
    else:  # the bench file's [dut]; its instruments are not used in a dry run
        bench = tmp_path / "desk.toml"
        bench.write_text(f'name = "desk"\nboard = "{BOARD}"\n[dut]\nport = "{port}"\n'
                         '[relay]\nkind = "ifboard"\nport = "/dev/ttyACM7"\n')
        where = ["--bench", str(bench)]
    result = cli("measure", *where, "--mode", "energy", "--dry-run", "-b", "kws", "--out", str(tmp_path / "runs"))
    assert_one_line_error(result, 13, "cannot open", "no-such-tty")
    status = json.loads(next((tmp_path / "runs").glob("*/status.json")).read_text())
    assert status["state"] == "failed"


@pytest.mark.parametrize("args, fragments", [
    (["--mode", "performance", "--dry-run"], ["--dry-run applies to energy mode only"]),
    (["--mode", "energy", "--dry-run", "--monitor", "lpm01a:/dev/ttyACM3"], ["without a port", "--monitor lpm01a"]),
    (["--mode", "energy", "--dry-run", "--relay", "ifboard:/dev/ttyACM4"], ["without a port", "--relay ifboard"]),
    (["--mode", "energy", "--dry-run", "--lab-fault", "no_banner=1"], ["--lab-fault configures the virtual lab"]),
    (["--mode", "energy"], ["not --dut", "--dry-run"]),
])
def test_dry_run_options_are_checked_before_any_port(cli, tmp_path, args, fragments):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--dut", "/dev/ttyACM0", *args, "--out", str(tmp_path))
    assert_one_line_error(result, 2, *fragments)
    assert not list(tmp_path.iterdir())


def test_a_virtual_board_has_its_whole_bench_emulated_already(cli, tmp_path):
    result = cli("measure", "--board", "virtual-l4r5zi", "-b", "kws", "--mode", "energy", "--dry-run",
                 "--out", str(tmp_path))
    assert_one_line_error(result, 2, "--dry-run puts a real DUT behind emulated instruments")
