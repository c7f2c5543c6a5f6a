"""Pass-through boards are plug-ins: the EEMBC IO manager has an emulator, so an energy run on
the virtual lab goes through it byte for byte, and a board defined entirely in this test tree
(tests/plugins/toy_relay, registered by its own dist-info as another distribution would be) is
detected and measured through, touching no package file."""

from __future__ import annotations

import os
import re
import types
from pathlib import Path

import pytest

from conftest import REPO, assert_one_line_error, require_tools, run_cli
from support.capture_port import Port
from tiny_runner.bench import relays as relay
from tiny_runner.bench.detect import Candidate, candidates_by_usb_id, find_relay
from tiny_runner.protocol.wirelog import FROM_DEVICE, TO_DEVICE, stream
from tiny_runner.relays.ioman.emulator import IoManager as EmulatedIoManager

PLUGINS = REPO / "tests" / "plugins"
BOARD = "virtual-l4r5zi"
TOY_USB_ID = (0x1209, 0x0002)


def with_plugins(*folders) -> dict:
    return {"PYTHONPATH": os.pathsep.join([*map(str, folders), os.environ.get("PYTHONPATH", "")])}


def energy_run(tmp_path, *options: str, env: dict | None = None) -> tuple[dict, Path]:
    result = run_cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--lab-speed", "25",
                     "--out", str(tmp_path), "--json", "-q", *options, env=env)
    assert result.code == 0, result.stderr
    data = result.json()
    return data, Path(data["run_dir"])


def assert_matches_the_ground_truth(data: dict) -> None:
    assert data["valid"] and data["violations"] == [] and len(data["windows"]) == 5
    for window in data["windows"]:
        assert abs(window["truth_error_pct"]) < 0.5  # 1 kHz samples, as test_energy_end_to_end bounds them
    truth = data["lab"]["truth"]
    assert data["median_energy_uj_per_inf"] == pytest.approx(truth["median_energy_uj_per_inf"], rel=0.005)


def commands(sent: bytes) -> list[bytes]:
    """The `%`-terminated commands in what the host sent, without their `%`."""
    *done, rest = sent.split(b"%")
    assert rest == b""
    return done


# -- the emulated IO manager, byte for byte ------------------------------------------------------
def test_the_emulated_io_manager_answers_exactly():
    host, to_dut = Port(), []
    board = EmulatedIoManager(host, to_dut.append, firmware_baud=9600)
    board.from_dut(b"m-timestamp-mode-energy\r\n")  # the boot banner, outside any command
    assert host.take() == b"[dut]: m-timestamp-mode-energy\r\n"
    board.from_host(b"name%")
    assert host.take() == b"EEMBC IO Manager (emulated)\r\nm-ready\r\n"
    board.from_host(b"tm 0%enable-timer%disable-timer%")
    assert host.take() == (b"m-timestmp-mode-FALLING\r\nm-[Timer disabled after mode change]\r\nm-ready\r\n"
                           b"m-timer-enabled\r\nm-ready\r\nm-timer-disabled\r\nm-ready\r\n")
    board.from_host(b"checkbaud%")  # the interface board's command: not the IO manager's
    assert host.take() == b"e-[Unknown command: checkbaud]\r\nm-ready\r\n"
    board.from_host(b"dut db load 490%")
    assert host.take() == b"m-dut-passthrough(db load 490)\r\nm-ready\r\n" and to_dut == [b"db load 490%"]
    board.from_dut(b"m-[Expecting 490 bytes]\r\nm-re")
    board.from_dut(b"ady\r\n")
    assert host.take() == b"[dut]: m-[Expecting 490 bytes]\r\n[dut]: m-ready\r\n"


def test_the_emulated_io_manager_keeps_64_bytes_of_a_command():
    host, to_dut = Port(), []
    board = EmulatedIoManager(host, to_dut.append)
    fits = b"dut db " + b"ab" * 28  # 63 bytes and the %: what the driver sends at most
    board.from_host(fits + b"%")
    board.from_host(fits + b"cdef%")  # 4 bytes past the Uno's receive buffer
    assert to_dut == [b"db " + b"ab" * 28 + b"%"] * 2 and board.lost_bytes == 4


def test_the_emulated_io_manager_garbles_a_dut_at_another_rate():
    host, to_dut = Port(), []
    board = EmulatedIoManager(host, to_dut.append, firmware_baud=115_200)
    board.from_host(b"dut name%")
    assert host.take() == b"m-dut-passthrough(name)\r\nm-ready\r\n" and to_dut == [b"\xff" * 5]
    board.from_dut(b"m-ready\r\n")
    assert host.take() == b""


# -- an energy run on the virtual lab through it ---------------------------------------------------
def test_an_energy_run_through_the_emulated_io_manager_matches_the_ground_truth(tmp_path, reference):
    data, run = energy_run(tmp_path, "--relay", "ioman")
    assert_matches_the_ground_truth(data)
    assert data["relay"]["kind"] == "ioman" and data["relay"]["dut_baud"] == 9600
    assert data["dut"]["url"].startswith("ioman:")
    sent, heard = stream(run / "wire.log", TO_DEVICE), stream(run / "wire.log", FROM_DEVICE)
    # who it is, then straight to the DUT: its DUT side is 9600 and cannot be asked or set
    assert sent.startswith(b"name%dut ") and b"checkbaud" not in sent and b"setbaud" not in sent
    assert heard.startswith(b"EEMBC IO Manager (emulated)\r\nm-ready\r\n")
    assert (b"m-dut-passthrough(name)\r\nm-ready\r\n[dut]: m-name-dut-[unspecified]\r\n[dut]: m-ready\r\n"
            in heard)
    assert b"[dut]: m-timestamp-mode-energy\r\n" in heard  # the boot banner, forwarded as it prints it
    assert (b"m-dut-passthrough(db load 490)\r\nm-ready\r\n[dut]: m-[Expecting 490 bytes]\r\n[dut]: m-ready\r\n"
            in heard)
    # every download fits the Uno's 64 bytes: 490 input bytes as 17 commands of 28 and one of 14, per file
    every = commands(sent)
    assert max(len(c) + 1 for c in every) == 64
    chunks = [c for c in every if c.startswith(b"dut db ") and not c.startswith(b"dut db load")]
    sizes = [len(c) - len(b"dut db ") for c in chunks]
    assert sizes[:18] == [56] * 17 + [28] and set(sizes) == {56, 28}
    assert re.search(rb"dut infer \d+ 1", sent)
    log = (run / "log.txt").read_text()
    assert "relay: EEMBC IO Manager (emulated)" in log and "pass-through board ioman:" in log


def test_the_c_firmware_under_qemu_is_measured_through_the_emulated_io_manager(tmp_path, reference):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    result = run_cli("measure", "--board", "qemu-m4", "-b", "kws", "--mode", "energy", "--relay", "ioman",
                     "--out", str(tmp_path), "--json", "-q")
    assert result.code == 0, result.stderr
    data = result.json()
    assert_matches_the_ground_truth(data)
    assert data["relay"]["kind"] == "ioman"
    heard = stream(Path(data["run_dir"]) / "wire.log", FROM_DEVICE)
    assert heard.startswith(b"EEMBC IO Manager (emulated)\r\nm-ready\r\n") and b"[dut]: m-load-done\r\n" in heard


@pytest.mark.parametrize("options, message", [
    (("--relay", "ioman", "--baud", "115200"), "the EEMBC IO manager talks to the DUT at 9600 baud, not 115200"),
    (("--relay", "usbhub"), "--relay usbhub: expected ifboard[:PORT] or ioman[:PORT]"),
])
def test_relay_options_are_checked_from_the_declarations(tmp_path, options, message):
    result = run_cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--out", str(tmp_path), *options)
    assert_one_line_error(result, 2, message)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # refused before a run directory exists


# -- a pass-through board from outside tiny-runner -------------------------------------------------
def test_detection_knows_the_toy_relay_by_its_usb_id(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    relay.clear_cache()
    toy_port = types.SimpleNamespace(device="/dev/ttyTOY0", vid=TOY_USB_ID[0], pid=TOY_USB_ID[1],
                                     serial_number="T1", description="toy relay")
    monkeypatch.setattr("tiny_runner.bench.detect.serial_ports", lambda: [toy_port])
    try:
        assert candidates_by_usb_id()[TOY_USB_ID] == [Candidate("relay", "toy")]  # it declares no name% answer
        assert find_relay() == ("toy:/dev/ttyTOY0", "pass-through board toy:/dev/ttyTOY0 found by USB ID 1209:0002")
        assert relay.specs() == "ifboard[:PORT], ioman[:PORT] or toy[:PORT]"
    finally:
        monkeypatch.undo()
        relay.clear_cache()
    assert "toy" not in relay.plugins() and TOY_USB_ID not in candidates_by_usb_id()  # the package alone


def test_an_energy_run_through_the_toy_relay_matches_the_ground_truth(tmp_path, reference):
    data, run = energy_run(tmp_path, "--relay", "toy", env=with_plugins(PLUGINS))
    assert_matches_the_ground_truth(data)
    assert data["relay"]["kind"] == "toy" and data["dut"]["url"].startswith("toy:")
    sent = stream(run / "wire.log", TO_DEVICE)
    assert sent.startswith(b"who\nbaud?\nsend ") and b"dut " not in sent  # its own shell, not the EEMBC one
    assert b"send db load 490%\n" in sent
    chunks = re.findall(rb"send db ([0-9a-f]+)%\n", sent)
    assert [len(c) for c in chunks[:31]] == [32] * 30 + [20]  # 16 input bytes a command, 10 in the last
    assert stream(run / "wire.log", FROM_DEVICE).startswith(b"= toy relay 0.1\n= baud 9600\n")
    help_text = " ".join(run_cli("measure", "--help", env=with_plugins(PLUGINS)).stdout.split())
    assert "ifboard[:PORT_URL], ioman[:PORT_URL] or toy[:PORT_URL]" in help_text


def test_a_relay_plug_in_that_cannot_be_loaded_is_named_where_it_is_asked_for(tmp_path):
    info = tmp_path / "plugins" / "broken_relay-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-relay\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[tiny_runner.relays]\nbroken = no_such_module.plugin:PLUGIN\n")
    env = with_plugins(info.parent)
    assert run_cli("measure", "--help", env=env).code == 0  # the others still work
    result = run_cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--relay", "broken",
                     "--out", str(tmp_path / "runs"), env=env)
    assert_one_line_error(result, 2, "pass-through board plug-in 'broken' (no_such_module.plugin:PLUGIN) cannot be "
                                     "loaded: ModuleNotFoundError")
