"""The STLINK-V3PWR: its binary stream parser, the driver against its emulator (the exact command
lines, ASCII and binary streams, every fault switch), detection of its power port, and energy
runs with the emulated probe on the virtual lab."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import assert_one_line_error
from energy_monitor.errors import MonitorDataError, MonitorFirmwareTooOld, MonitorRefused
from energy_monitor.lpm01a.emulator import Lpm01aEmulator
from energy_monitor.stlink_v3pwr import StlinkV3pwr
from energy_monitor.stlink_v3pwr import plugin as v3pwr_plugin
from energy_monitor.stlink_v3pwr.emulator import BOARD_ID, Faults, StlinkV3pwrEmulator
from energy_monitor.stlink_v3pwr.stream import BinaryParser, PromptedAsciiParser
from support.power_bench import ConstantBench

BOARD = "virtual-l4r5zi"


# -- the stream ------------------------------------------------------------------------------------
def test_binary_frames_samples_and_resync():
    parser = BinaryParser(1000)
    data = (bytes.fromhex("0123 f123")  # 0x123 A; 0x123 x 16^-15 A (a first byte F1 is a sample here)
            + b"\xf0\xf5\x00\x00\x01\x90\xff\xff"  # an 8-byte F5 frame: skipped
            + b"\xf0\xf2event 00 fal\r\n\xff\xff"  # the edge is in the last sample received
            + b"\xf0\xf1overcurrent\r\n\xff\xff"
            + b"\xf0\xfc" + bytes.fromhex("1001")  # an unknown frame id: noted, its marker skipped
            + b"\xf0\xf3" + (10).to_bytes(4, "big") + b"\x05\xff")  # TimeStamp 10 ms, cut before its end
    first = parser.feed(data)
    assert np.allclose(np.concatenate([p.values for p in first]), [0x123, 0x123 / 16**15, 1 / 16])
    assert [e for p in first for e in p.edges] == [1]
    assert [m for p in first for m in p.messages] == [b"error: overcurrent", b"unknown metadata frame F0 FC"]
    second = parser.feed(b"\xff" + bytes.fromhex("2001") + b"\xf0\xf4\xff\xffack stop\r\n")
    assert second[0].dropped == 10 - 3 and second[1].first_index == 10  # indices stay time after the gap
    assert np.allclose(second[1].values, [1 / 256])
    assert parser.ended and parser.take_leftover() == b"ack stop\r\n"


def test_ascii_lines_behind_the_prompt():
    parser = PromptedAsciiParser(1000)
    out = parser.feed(b"1234-06\r\n5000-07\r\nevent 03 fal\r\n12")
    assert np.allclose(out[0].values, [1234e-6, 5000e-7]) and out[0].edges == [1]
    out = parser.feed(b"00-09\r\nstlp > end\r\nstlp > ack stop\r\n")
    assert np.allclose(out[0].values, [1200e-9]) and parser.ended
    assert parser.take_leftover() == b"ack stop\r\n"


# -- the driver against the emulator -----------------------------------------------------------
def run_probe(faults: Faults, rate_hz: float, seconds: float, *, speed: float = 20, edges_us=(), wire=None):
    """Open, supply 1.8 V, stream `seconds` of wall time; (identity, chunks, error, bench)."""
    bench = ConstantBench(0.018, edge_offsets_us=edges_us, speed=speed)
    emulator = StlinkV3pwrEmulator(bench, faults=faults)
    emulator.start()
    chunks, error = [], None
    log = (lambda direction, text: wire.append((direction, text))) if wire is not None else None
    probe = StlinkV3pwr(emulator.path, log=log)
    try:
        identity = probe.open()
        probe.set_voltage(1800)
        probe.power(True)
        probe.start(rate_hz)
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                if (chunk := probe.read_chunk(0.1)) is not None:
                    chunks.append(chunk)
            probe.stop()
            while (chunk := probe.read_chunk(0.3)) is not None:
                chunks.append(chunk)
        except MonitorDataError as exc:
            error = exc
    finally:
        probe.close()
        emulator.shutdown()
    return identity, chunks, error, bench


def test_the_driver_sends_the_verified_commands_and_records_the_probe():
    wire = []
    identity, chunks, error, bench = run_probe(Faults(noise_rel=0.0), 1000, 0.3, wire=wire)
    sent = [text for direction, text in wire if direction == ">"]
    assert sent == ["stop", "powershield", "version", "power_monitor", "htc", "volt 1800m", "volt get",
                    "pwr on nostatus", "output current", "acqtime 0", "trigdelay 0", "trigsrc sw", "eventsrc d7 fal",
                    "format ascii_dec", "freq 1k", "start", "stop", "hrc"]
    assert identity == {"model": "STLINK-V3PWR", "serial": BOARD_ID, "firmware": "1.2.0", "port": identity["port"],
                        "voltage_read_back_mv": 1800.0}
    assert error is None and bench.volts == 1.8 and bench.powered


@pytest.mark.parametrize("faults, rate_hz, speed, edges_us", [
    (Faults(noise_rel=0.0), 10_000, 20, (1_000_050, 2_500_170)),
    (Faults(noise_rel=0.0, prompt=True), 1000, 20, (1_200_250, 3_500_750)),
    (Faults(noise_rel=0.0, metadata_every=2), 100_000, 1, (120_005, 350_015)),
])
def test_currents_become_energy_and_events_become_edges(faults, rate_hz, speed, edges_us):
    _, chunks, error, _ = run_probe(faults, rate_hz, edges_us[-1] / 1e6 / speed * 1.5 + 0.5, speed=speed,
                                    edges_us=edges_us)
    assert error is None and chunks[0].first_index == 0 and sum(c.dropped for c in chunks) == 0
    # 18 mW at 1.8 V is 10 mA: 4 digits in ASCII, 12 bits in binary
    assert np.allclose(np.concatenate([c.current_a for c in chunks]), 0.010, rtol=0.5 / 256)
    assert np.allclose(np.concatenate([c.energy() for c in chunks]), 0.018 / rate_hz, rtol=0.5 / 256)
    period_us = 1e6 / rate_hz
    assert [e for c in chunks for e in c.edges] == [int(t // period_us) for t in edges_us]


def test_a_stale_stream_and_lost_samples():
    _, chunks, error, _ = run_probe(Faults(stale_stream=True, drop_every=2), 20_000, 0.5, speed=2,
                                    edges_us=(400_010,))
    dropped = sum(c.dropped for c in chunks)
    assert error is None and dropped and dropped % 10 == 0  # every 2nd timestamp period lost 10 samples
    assert sum(len(c) for c in chunks) + dropped == chunks[-1].first_index + len(chunks[-1])
    assert [e for c in chunks for e in c.edges] == [8000]


def test_a_probe_unplugged_mid_run_ends_the_stream_with_what_came_before():
    _, chunks, error, _ = run_probe(Faults(vanish_after=3000), 1000, 2.0)
    assert isinstance(error, MonitorDataError) and "went away" in str(error)
    assert 0 < sum(len(c) for c in chunks) < 3000 + 2000  # it vanishes within one block of samples


@pytest.mark.parametrize("faults, error, message", [
    (Faults(no_power_monitor=True), MonitorFirmwareTooOld, "refused power_monitor: its firmware has no power monitor"),
    (Faults(refuse="volt"), MonitorRefused, "refused 'volt 1800m': error volt 1800m Error detail: command failed"),
])
def test_a_firmware_without_the_power_shell_and_a_refused_command(faults, error, message):
    with pytest.raises(error, match=message):
        run_probe(faults, 1000, 0.1)


def test_an_lpm01a_on_the_port_is_not_taken_for_a_v3pwr():
    emulator = Lpm01aEmulator(ConstantBench(0.01))
    emulator.start()
    probe = StlinkV3pwr(emulator.path, ack_timeout_s=0.5)
    try:
        with pytest.raises(MonitorRefused, match="an LPM01A"):
            probe.open()
    finally:
        probe.close()
        emulator.shutdown()


def test_a_voltage_outside_the_range_is_refused_with_the_range():
    with pytest.raises(MonitorRefused, match="1600..3600 mV, not 1500 mV"):
        StlinkV3pwr("/dev/null").set_voltage(1500)


# -- detection -----------------------------------------------------------------------------------
def fake_port(device: str, interface: str | None = None):
    return SimpleNamespace(device=device, vid=0x0483, pid=0x3757, serial_number="002F0028", interface=interface,
                           description="STLINK-V3PWR")  # pyserial's description on Linux: the product


def test_the_power_port_is_told_apart_by_its_name_or_its_powershield_answer(monkeypatch):
    from serial.tools import list_ports

    v3pwr = StlinkV3pwrEmulator(ConstantBench(0.01))
    target_uart = Lpm01aEmulator(ConstantBench(0.01))  # answers powershield, but not as a V3PWR
    for emulator in (v3pwr, target_uart):
        emulator.start()
    try:
        monkeypatch.setattr(list_ports, "comports", lambda: [fake_port(target_uart.path), fake_port(v3pwr.path)])
        found, note = v3pwr_plugin._scan()
        assert note is None and [(d.serial, d.description) for d in found] == [
            (v3pwr.path, f"STLINK-V3PWR {BOARD_ID} power port")]
        named = [fake_port("/dev/ttyACM0", "STLink Virtual COM Port"),
                 fake_port("/dev/ttyACM1", "STLink Virtual COM Port PWR")]
        monkeypatch.setattr(list_ports, "comports", lambda: named)  # named: nothing needs asking
        assert [d.serial for d in v3pwr_plugin._scan()[0]] == ["/dev/ttyACM1"]
    finally:
        for emulator in (v3pwr, target_uart):
            emulator.shutdown()


# -- energy runs on the virtual lab --------------------------------------------------------------
def test_an_energy_run_with_the_emulated_v3pwr_matches_the_ground_truth(cli, tmp_path, reference):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--monitor", "stlink-v3pwr",
                 "--lab-monitor-quirk", "prompt=1", "--json", "-q", "--out", str(tmp_path))
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["valid"] and data["monitor"]["model"] == "STLINK-V3PWR" and data["monitor"]["rate_hz"] == 10_000
    assert data["monitor"]["serial"] == BOARD_ID and data["monitor"]["firmware"] == "1.2.0"
    assert data["lab"]["truth"]["max_abs_error_pct"] < 0.05  # one 100 us sample per edge of a 12 s window, noise
    assert data["median_energy_uj_per_inf"] == pytest.approx(7430.2, rel=0.001)  # the LPM01A's figure


@pytest.mark.parametrize("quirk, code, fragment", [
    ("no_power_monitor=1", 21, "no power monitor shell"),
    ("refuse=eventsrc", 20, "refused 'eventsrc d7 fal'"),
    ("vanish_after=20000", 20, "went away"),
])
def test_v3pwr_faults_stop_the_run_with_one_line_and_the_run_directory(cli, tmp_path, reference, quirk, code,
                                                                       fragment):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--monitor", "stlink-v3pwr",
                 "--lab-monitor-quirk", quirk, "--out", str(tmp_path))
    assert_one_line_error(result, code, fragment)
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert json.loads((run_dir / "status.json").read_text())["state"] == "failed"
    if quirk.startswith("vanish"):
        assert Path(run_dir / "capture" / "energy.f4").stat().st_size > 0  # the samples before are kept


def test_a_voltage_outside_the_v3pwr_range_is_refused_before_the_run(cli, tmp_path):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--monitor", "stlink-v3pwr",
                 "--voltage", "1650", "--out", str(tmp_path))
    assert_one_line_error(result, 2, "--voltage 1650", "the stlink-v3pwr and virtual-l4r5zi allow 1710..3600 mV")
