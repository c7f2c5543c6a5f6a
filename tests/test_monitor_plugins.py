"""Energy monitors are plug-ins: a monitor defined entirely in this test tree
(tests/plugins/toy_monitor, registered by its own dist-info as another distribution would be)
is listed, detected, emulated on the virtual lab and measured with, touching no package file."""

from __future__ import annotations

import os

import pytest

from conftest import REPO, assert_one_line_error, require_tools, run_cli
from tiny_runner.bench import monitors
from tiny_runner.bench.detect import Candidate, candidates_by_usb_id

PLUGINS = REPO / "tests" / "plugins"
BOARD = "virtual-l4r5zi"


def with_plugins(*folders) -> dict:
    return {"PYTHONPATH": os.pathsep.join([*map(str, folders), os.environ.get("PYTHONPATH", "")])}


def toy_cli(*args: str):
    return run_cli(*args, env=with_plugins(PLUGINS))


def energy_run(tmp_path, *options: str, board: str = BOARD):
    result = toy_cli("measure", "--board", board, "-b", "kws", "--mode", "energy", "--monitor", "toy",
                     "--out", str(tmp_path), "--json", "-q", *options)
    assert result.code == 0, result.stderr
    return result.json()


def test_the_toy_monitor_is_listed_from_its_declaration():
    virtual = toy_cli("monitors", "--json").json()["virtual"]
    assert [m["spec"] for m in virtual] == ["lpm01a", "otii", "ppk2", "scpi", "stlink-v3pwr", "toy", "joulescope"]
    toy = next(m for m in virtual if m["spec"] == "toy")
    assert toy["description"] == "emulated Toy Instruments' made-up energy meter (a plug-in from outside tiny-runner)"
    help_text = toy_cli("measure", "--help").stdout
    assert "toy:PORT" in " ".join(help_text.split()) and "toy: offset_j" in " ".join(help_text.split())


@pytest.mark.parametrize("board", [BOARD, "qemu-m4"])  # the emulated reference firmware, and the C image
def test_an_energy_run_with_the_toy_monitor_matches_the_ground_truth(tmp_path, board):
    if board == "qemu-m4":
        require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    data = energy_run(tmp_path, board=board)
    assert data["valid"] and data["monitor"]["model"] == "toy" and data["monitor"]["rate_hz"] == 10_000
    assert data["monitor"]["voltage_source"] == "set by the monitor" and data["monitor"]["voltage_mv"] == 1800
    for window in data["windows"]:
        assert abs(window["truth_error_pct"]) < 0.05  # one 100 us sample at each edge, of a 10 s window


def test_the_toy_emulators_switch_reaches_it_with_its_type(tmp_path):
    """offset_j=1e-6 adds 1 uJ to each of 10,000 samples a second: 10 mW, 1819.5 uJ per
    inference at kws's 5.496 inferences a second."""
    data = energy_run(tmp_path, "--lab-monitor-quirk", "offset_j=1e-6")
    excess = data["median_energy_uj_per_inf"] - data["lab"]["truth"]["median_energy_uj_per_inf"]
    assert excess == pytest.approx(1e-6 * 1e6 * 10_000 / data["median_throughput_inf_per_s"], rel=0.002)


def test_the_toy_emulators_switches_are_checked_from_the_declaration(tmp_path):
    base = ("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--monitor", "toy", "--out", str(tmp_path))
    assert_one_line_error(toy_cli(*base, "--lab-monitor-quirk", "offset_j=abc"), 2,
                          "switch offset_j of the emulated toy needs a number, got 'abc'")
    assert_one_line_error(toy_cli(*base, "--lab-monitor-quirk", "glue_every=3"), 2,
                          "the emulated toy has no switch 'glue_every'; it has offset_j")
    assert_one_line_error(toy_cli(*base, "--monitor-rate", "1000"), 2, "--monitor-rate: the toy samples at 10,000 Hz")


def test_detection_knows_the_toy_monitor_by_its_usb_id(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    monitors.clear_cache()
    try:
        assert Candidate("monitor", "toy") in candidates_by_usb_id()[(0x1209, 0x0001)]
    finally:
        monkeypatch.undo()
        monitors.clear_cache()
    assert "toy" not in monitors.plugins()  # the package alone does not know it


def test_a_plug_in_that_cannot_be_loaded_is_named_where_it_is_asked_for(tmp_path):
    info = tmp_path / "broken_monitor-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-monitor\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[tiny_runner.energy_monitors]\nbroken = no_such_module.plugin:PLUGIN\n")
    listing = run_cli("monitors", "--json", env=with_plugins(tmp_path))
    assert listing.code == 0 and "Traceback" not in listing.stderr  # the others still work
    reason = "energy monitor plug-in 'broken' (no_such_module.plugin:PLUGIN) cannot be loaded: ModuleNotFoundError"
    assert any(note.startswith(reason) for note in listing.json()["notes"])
    assert [m["spec"] for m in listing.json()["virtual"]] == ["lpm01a", "otii", "ppk2", "scpi", "stlink-v3pwr",
                                                              "joulescope"]
    result = run_cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--monitor", "broken",
                     "--out", str(tmp_path / "runs"), env=with_plugins(tmp_path))
    assert_one_line_error(result, 2, reason)
