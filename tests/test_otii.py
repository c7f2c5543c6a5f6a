"""The Otii driver against a scripted TCP server (the exact request lines) and against its
emulator (edges and energy from a known bench, each fault switch), and energy runs with the
emulated Otii on the virtual lab."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error
from energy_monitor.errors import MonitorFirmwareTooOld, MonitorRefused
from energy_monitor.otii.driver import Otii
from energy_monitor.otii.emulator import DEVICE, Faults, OtiiEmulator
from energy_monitor.otii.protocol import parse_address
from support.power_bench import PinBench, read_for

BOARD = "virtual-l4r5zi"


class SuppliedPinBench(PinBench):
    def supply_v(self):
        return (self.volts or 0.0) if self.powered else 0.0


class ScriptedServer:
    """A TCP server that greets, then answers each request line with the next scripted data,
    keeping every line it received."""

    def __init__(self, answers: list[dict], greeting: dict | None = None):
        self.answers = answers
        self.greeting = greeting or {"otii_version": "3.5.5", "protocol_version": "0.1"}
        self.received: list[bytes] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._server.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        conn, _ = self._server.accept()
        with conn:
            conn.sendall(json.dumps({"type": "information", "info": "connected", "data": self.greeting}).encode()
                         + b"\r\n")
            pending = b""
            while self.answers:
                data = conn.recv(65536)
                if not data:
                    return
                pending += data
                while b"\r\n" in pending and self.answers:
                    line, pending = pending.split(b"\r\n", 1)
                    self.received.append(line)
                    request = json.loads(line)
                    conn.sendall(json.dumps({"type": "response", "cmd": request["cmd"],
                                             "trans_id": request["trans_id"], "data": self.answers.pop(0)}).encode()
                                 + b"\r\n")

    def close(self):
        self._server.close()


def test_the_driver_sends_the_documented_requests():
    server = ScriptedServer([{"has_license": True}, {"devices": [DEVICE]},
                             {"hw_version": "1.1", "fw_version": "1.2.6"}, {"value": 4000}, {}, {}, {}, {}, {}])
    otii = Otii(server.address)
    identity = otii.open()
    otii.set_voltage(1800)
    otii.power(True)
    otii.connection.close()
    server.close()
    device = f'"device_id": "{DEVICE["device_id"]}"'
    assert server.received == [
        b'{"type": "request", "cmd": "otii_has_license", "trans_id": "1", "data": {"license_type": "Automation"}}',
        b'{"type": "request", "cmd": "otii_get_devices", "trans_id": "2", "data": {"timeout": 3}}',
        b'{"type": "request", "cmd": "arc_get_version", "trans_id": "3", "data": {' + device.encode() + b'}}',
        b'{"type": "request", "cmd": "arc_get_channel_samplerate", "trans_id": "4", "data": {' + device.encode()
        + b', "channel": "mc"}}',
        b'{"type": "request", "cmd": "arc_set_main_voltage", "trans_id": "5", "data": {' + device.encode()
        + b', "value": 1.8}}',
        b'{"type": "request", "cmd": "arc_set_max_current", "trans_id": "6", "data": {' + device.encode()
        + b', "value": 0.5}}',
        b'{"type": "request", "cmd": "arc_set_exp_voltage", "trans_id": "7", "data": {' + device.encode()
        + b', "value": 1.8}}',
        b'{"type": "request", "cmd": "arc_enable_exp_port", "trans_id": "8", "data": {' + device.encode()
        + b', "enable": true}}',
        b'{"type": "request", "cmd": "arc_set_main", "trans_id": "9", "data": {' + device.encode()
        + b', "enable": true}}',
    ]
    assert identity == {"model": "Otii Arc", "name": "Arc", "serial": DEVICE["device_id"], "firmware": "1.2.6",
                        "hardware": "1.1", "server": "3.5.5", "port": server.address, "rate_hz": 4000.0}


def test_addresses_and_limits():
    assert parse_address(None) == ("127.0.0.1", 1905)
    assert parse_address("lab-pc") == ("lab-pc", 1905)
    assert parse_address("10.0.0.7:2000") == ("10.0.0.7", 2000)
    with pytest.raises(MonitorRefused, match="expected HOST:PORT"):
        parse_address("lab-pc:abc")
    with pytest.raises(MonitorRefused, match="500..4500 mV, not 4600"):
        Otii("127.0.0.1:1").set_voltage(4600)


def capture(faults: Faults, seconds: float = 0.8):
    """Open, supply, record `seconds` of wall time from the emulator; (chunks, error, bench)."""
    bench = SuppliedPinBench(0.02, edge_offsets_us=(100_000, 350_030), speed=1)
    emulator = OtiiEmulator(bench, faults=faults)
    emulator.start()
    try:
        otii = Otii(emulator.address)
        otii.open()
        otii.set_voltage(1800)
        otii.power(True)
        otii.start(4000)
        chunks, error = read_for(otii, seconds)
        otii.close()
    finally:
        emulator.shutdown()
    return chunks, error, bench


@pytest.mark.parametrize("faults", [Faults(noise_rel=0.0), Faults(noise_rel=0.0, progress_every=2)])
def test_edges_and_energy_from_the_emulator(faults):
    chunks, error, bench = capture(faults)
    assert error is None and bench.volts == 1.8 and bench.powered
    energy = np.concatenate([c.energy() for c in chunks])
    assert energy.mean() == pytest.approx(0.02 / 4000, rel=1e-5)  # 20 mW at 4 kS/s, voltage measured
    # the 250 us sample holding each falling edge: 100 000 us -> 400, 350 030 us -> 1400
    assert [e for c in chunks for e in c.edges] == [400, 1400]
    assert [c.first_index for c in chunks] == list(np.cumsum([0] + [len(c) for c in chunks[:-1]]))


@pytest.mark.parametrize("faults, message", [
    (Faults(unplug_after=6), "Device not connected"),
    (Faults(close_after=6), "closed the connection"),
])
def test_an_otii_that_goes_away_mid_run_ends_the_stream(faults, message):
    chunks, error, _ = capture(faults)
    assert error is not None and message in str(error)
    assert chunks  # what came before is kept


@pytest.mark.parametrize("faults, error, message", [
    (Faults(no_licence=True), MonitorRefused, "no Automation licence reserved"),
    (Faults(server_version="2.8.4"), MonitorFirmwareTooOld, "is Otii 2.8.4"),
])
def test_a_server_that_cannot_be_scripted_is_refused(faults, error, message):
    emulator = OtiiEmulator(SuppliedPinBench(0.02), faults=faults)
    emulator.start()
    try:
        with pytest.raises(error, match=message):
            Otii(emulator.address).open()
    finally:
        emulator.shutdown()


def energy_run(cli, tmp_path, *args, code=0):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--monitor", "otii", "--json", "-q",
                 "--out", str(tmp_path), *args)
    assert result.code == code, result.stderr
    return result


def test_an_energy_run_with_the_emulated_otii_matches_the_ground_truth(cli, tmp_path, reference):
    data = energy_run(cli, tmp_path, "--lab-monitor-quirk", "progress_every=3").json()
    assert data["valid"] and data["monitor"]["model"] == "Otii Arc" and data["monitor"]["rate_hz"] == 4000
    assert data["monitor"]["serial"] == DEVICE["device_id"] and data["monitor"]["firmware"] == "1.2.6"
    assert data["lab"]["truth"]["max_abs_error_pct"] < 0.05  # one 250 us sample of a 12 s window, plus noise
    assert data["median_energy_uj_per_inf"] == pytest.approx(7430.2, rel=0.001)  # the LPM01A's figure


@pytest.mark.parametrize("quirk, code, fragment", [
    ("no_licence=1", 20, "no Automation licence reserved"),
    ("server_version=2.8.4", 21, "Otii 2.8.4"),
    ("unplug_after=40", 20, "Device not connected"),
    ("close_after=40", 20, "closed the connection"),
])
def test_otii_faults_stop_the_run_with_one_line_and_the_run_directory(cli, tmp_path, reference, quirk, code,
                                                                      fragment):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--monitor", "otii",
                 "--lab-monitor-quirk", quirk, "--out", str(tmp_path))
    assert_one_line_error(result, code, fragment)
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert json.loads((run_dir / "status.json").read_text())["state"] == "failed"
    if quirk.startswith(("unplug", "close")):
        assert Path(run_dir / "capture" / "energy.f4").stat().st_size > 0  # the samples before are kept


def test_a_voltage_outside_the_otii_range_is_refused_before_the_run(cli, tmp_path):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--monitor", "otii",
                 "--voltage", "3700", "--out", str(tmp_path))
    assert_one_line_error(result, 2, "--voltage 3700", "the otii and virtual-l4r5zi allow 1710..3600 mV")


def test_monitors_lists_the_arcs_the_local_otii_server_knows(monkeypatch, capsys):
    from energy_monitor.otii import plugin
    from tiny_runner.cli import main

    emulator = OtiiEmulator(SuppliedPinBench(0.02))
    emulator.start()
    try:
        host, port = emulator.address.split(":")
        monkeypatch.setattr(plugin, "DEFAULT_ADDRESS", (host, int(port)))
        assert main(["monitors", "--json"]) == 0
    finally:
        emulator.shutdown()
    attached = json.loads(capsys.readouterr().out)["attached"]
    otiis = [m for m in attached if m["monitor"] == "otii"]
    assert [(m["spec"], m["description"]) for m in otiis] == [(f"otii:{emulator.address}",
                                                              f"Otii Arc 'Arc' ({DEVICE['device_id']})")]


def test_a_served_otii_is_measured_from_a_bench_file_as_on_a_real_bench(cli, tmp_path, reference):
    """`lab serve --energy-bench --monitor otii` serves the emulated Otii server on a TCP port; a
    real board's bench file names it like any Otii server."""
    server = subprocess.Popen([sys.executable, "-m", "tiny_runner", "lab", "serve", "--board", BOARD, "-b", "kws",
                               "--energy-bench", "--monitor", "otii", "--speed", "5"],
                              stdout=subprocess.PIPE, text=True)
    try:
        server.stdout.readline()
        ports = dict(server.stdout.readline().split() for _ in range(2))
        bench = tmp_path / "otii-desk.toml"
        bench.write_text(f'name = "otii-desk"\nboard = "nucleo-l4r5zi"\n[relay]\nkind = "ifboard"\n'
                         f'port = "{ports["relay"]}"\n[monitor]\nkind = "otii"\nport = "{ports["monitor"]}"\n')
        result = cli("measure", "--bench", str(bench), "-b", "kws", "--mode", "energy", "--json", "-q",
                     "--iterations", "10", "--out", str(tmp_path / "runs"))
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.code == 3, result.stderr  # short windows on purpose
    data = result.json()
    assert data["monitor"]["model"] == "Otii Arc" and data["monitor"]["port"] == ports["monitor"]
    assert data["bench"]["name"] == "otii-desk" and data["dut"]["virtual"] is False
    assert all(len(w["edges"]) == 2 and w["dropped_samples"] == 0 for w in data["windows"])
    assert data["median_energy_uj_per_inf"] == pytest.approx(22.688e-3 * 1.8 * 181.9174e3, rel=0.01)
