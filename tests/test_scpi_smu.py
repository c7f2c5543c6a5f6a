"""The N6705 SMU driver through real pyvisa + pyvisa-py against its socket emulator (the exact
SCPI commands, IEEE-488.2 and ASCII data, the error queue, each fault switch), the host's line
arrival times it needs, and energy runs with the emulated SMU on the virtual lab, edges placed
by the host."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error
from energy_monitor.errors import MonitorRefused
from energy_monitor.scpi.keysight_emulator import Faults
from energy_monitor.scpi.keysight_emulator import N6705Emulator as ScpiSmuEmulator
from energy_monitor.scpi.smu import RATES_HZ
from energy_monitor.scpi.smu import ScpiSmu as KeysightSmu
from energy_monitor.scpi.visa import parse_target
from support.scpi_socket import scpi_socket
from support.smu_run import SuppliedBench
from support.smu_run import run_smu as run_smu_against
from tiny_runner.protocol.link import Link

BOARD = "virtual-l4r5zi"
RATE = RATES_HZ[0]


def run_smu(faults: Faults, seconds: float = 0.6, binary: bool = True, target_options: str = ""):
    return run_smu_against(ScpiSmuEmulator, faults, RATE, seconds, binary, target_options)


def test_the_driver_sends_the_documented_commands():
    smu, chunks, error, bench, emulator = run_smu(Faults(noise_rel=0.0), seconds=0.3)
    assert error is None and bench.volts == 1.8 and bench.powered
    fetch = "FETC:ELOG? 100000,(@1)"
    assert [c for c in emulator.received if c != fetch] == [
        "*IDN?", "*RST", "*CLS", "SYST:CHAN?", "SYST:CHAN:MOD? (@1,2)", "SYST:CHAN:SER? (@1)", "SYST:ERR?",
        "EMUL PS2Q,(@1)", "FUNC VOLT,(@1)", "VOLT 1.8,(@1)", "CURR:LIM 0.2,(@1)", "SYST:ERR?", "VOLT? (@1)",
        "OUTP ON,(@1)", "SYST:ERR?",
        "SENS:ELOG:PER 0.0001024,(@1)", "SENS:ELOG:PER? (@1)",
        "SENS:ELOG:FUNC:CURR ON,(@1)", "SENS:ELOG:FUNC:CURR:MINM OFF,(@1)",
        "SENS:ELOG:FUNC:VOLT ON,(@1)", "SENS:ELOG:FUNC:VOLT:MINM OFF,(@1)",
        "SENS:ELOG:FUNC:CURR OFF,(@2)", "SENS:ELOG:FUNC:CURR:MINM OFF,(@2)",  # the other module too: issue #24
        "SENS:ELOG:FUNC:VOLT OFF,(@2)", "SENS:ELOG:FUNC:VOLT:MINM OFF,(@2)",
        "SENS:ELOG:CURR:DC:RANG:AUTO ON,(@1)", "FORM REAL", ":FORM:BORD NORM", "TRIG:ELOG:SOUR BUS,(@1)",
        "INIT:ELOG (@1)", "SYST:ERR?", "TRIG:ELOG (@1)", ":SYST:ERR?", "ABOR:ELOG (@1)"]
    assert emulator.received.count(fetch) >= 3
    identity = smu.identity
    assert (identity["mainframe"], identity["serial"], identity["firmware"], identity["module"]) == (
        "N6705C", "MY56000142", "D.04.01", "N6781A")
    assert identity["voltage_read_back_v"] == 1.8 and identity["modules"] == ["N6781A", "N6731B"]
    assert 0.002 <= identity["edge_uncertainty_s"] < 0.05  # the trigger's round trip on 127.0.0.1, plus 2 ms


@pytest.mark.parametrize("binary", [True, False], ids=["ieee-block", "ascii"])
def test_records_give_current_voltage_and_energy(binary):
    smu, chunks, error, bench, _ = run_smu(Faults(noise_rel=0.0), binary=binary)
    assert error is None and len(chunks) >= 3
    energy = np.concatenate([c.energy() for c in chunks])
    assert energy.mean() == pytest.approx(0.02 / RATE, rel=1e-5)  # 20 mW, from current x the logged voltage
    assert np.all(np.concatenate([c.voltage_v for c in chunks]) == np.float32(1.8))
    assert [c.first_index for c in chunks] == list(np.cumsum([0] + [len(c) for c in chunks[:-1]]))


def test_index_at_maps_the_host_clock_onto_the_log():
    bench = SuppliedBench(0.02, speed=1)
    emulator = ScpiSmuEmulator(bench, faults=Faults(noise_rel=0.0))
    emulator.start()
    smu = KeysightSmu(emulator.address)
    try:
        smu.open()
        smu.set_voltage(1800)
        smu.power(True)
        smu.start(RATE)
        time.sleep(0.3)
        now = time.monotonic()
        logged = (bench.horizon_us() - emulator._log.start_us) * 1e-6 * RATE  # the emulator's own record count
        # the bench's clock is the host's here, so the only error is the bracketed trigger instant
        assert smu.index_at(now) == pytest.approx(logged, abs=smu.edge_uncertainty_s * RATE + 2)
    finally:
        smu.close()
        emulator.shutdown()


@pytest.mark.parametrize("faults, options, message", [
    (Faults(idn="Keysight Technologies,N6700C,MY56000142,D.04.01"), "",
     r"is a Keysight Technologies N6700C; tiny-runner drives the Keysight N6705 \(N6705A, N6705B, N6705C\) with an "
     "SMU module and the Keithley 2450, 2460, 2461"),
    (Faults(), ",channel=2", "channel 2 of the N6705C at TCPIP::127.0.0.1::.*holds an N6731B, not an SMU module"),
    (Faults(), ",channel=3", "has channels 1..2, not 3"),
    (Faults(refuse="VOLT"), "", r'reported -222,"Data out of range" while setting 1800 mV with a 0.2 A limit'),
])
def test_an_instrument_that_cannot_be_used_is_refused(faults, options, message):
    with pytest.raises(MonitorRefused, match=message):
        run_smu(faults, target_options=options)


def test_voltages_and_rates_outside_the_instrument_are_refused():
    with pytest.raises(MonitorRefused, match="supplies 0..20000 mV here, not 25000 mV"):
        KeysightSmu("TCPIP::127.0.0.1::1::SOCKET").set_voltage(25000)
    bench = SuppliedBench(0.02, speed=1)
    emulator = ScpiSmuEmulator(bench)
    emulator.start()
    smu = KeysightSmu(emulator.address)
    try:
        smu.open()
        with pytest.raises(MonitorRefused, match="logs every 1003.52 µs, not 1000 µs: use a rate of 9765.62, 976.562"):
            smu.start(1000)
    finally:
        smu.close()
        emulator.shutdown()


def test_the_two_module_interleaving_of_issue_24_stops_the_stream():
    _, chunks, error, _, _ = run_smu(Faults(interleave_modules=True), seconds=4.0)
    assert error is not None and "EnergyRunner issue #24" in str(error) and "cannot be trusted" in str(error)
    assert chunks  # what came before is kept


def test_an_instrument_gone_mid_run_ends_the_stream():
    _, chunks, error, _, _ = run_smu(Faults(close_after=5), seconds=2.0)
    assert error is not None and "no answer to 'FETC:ELOG? 100000,(@1)' within 1 s" in str(error)
    assert chunks


def test_the_emulator_speaks_scpi():
    """Raw bytes: the error queue, *OPC?, long forms, compound messages, the binary block."""
    bench = SuppliedBench(0.02, speed=1)
    emulator = ScpiSmuEmulator(bench)
    emulator.start()
    try:
        with scpi_socket(emulator.port) as (ask, conn, reader):
            assert ask("*OPC?") == b"1\n"
            assert ask("BOGUS:THING 1;SYST:ERR?") == b'-113,"Undefined header;BOGUS:THING"\n'
            assert ask("SYSTem:ERRor?") == b'+0,"No error"\n'
            assert ask("SOURce:VOLTage:LEVel 2.5,(@1);:VOLT? (@1)") == b"+2.500000E+00\n"
            assert ask("FETC:ELOG? 10,(@1);SYST:ERR?") == b'-230,"Data corrupt or stale"\n'
            assert ask("OUTP ON,(@1);:SENS:ELOG:PER 0.001,(@1);:SENS:ELOG:PER? (@1)") == b"+1.003520E-03\n"
            assert ask("SENS:ELOG:FUNC:CURR ON,(@1);:SENS:ELOG:FUNC:VOLT ON,(@1);:FORM REAL;:INIT:ELOG (@1);"
                       ":TRIG:ELOG (@1);:SYST:ERR?") == b'+0,"No error"\n'
            time.sleep(0.05)
            conn.sendall(b"FETC:ELOG? 4,(@1)\n")
            assert reader.read(2) == b"#2" and reader.read(2) == b"32"  # 4 records x (I, V) x 4 bytes
            values = np.frombuffer(reader.read(32), dtype=">f4")
            assert reader.read(1) == b"\n" and np.all(values[1::2] == np.float32(2.5))
    finally:
        emulator.shutdown()


def test_targets():
    assert parse_target("TCPIP::10.0.0.5::5025::SOCKET") == ("TCPIP::10.0.0.5::5025::SOCKET", 1)
    assert parse_target("USB0::0x2A8D::0x0F02::MY56000142::0::INSTR,channel=3") == (
        "USB0::0x2A8D::0x0F02::MY56000142::0::INSTR", 3)
    assert parse_target(None) == (None, 1)
    with pytest.raises(MonitorRefused, match="the only option is channel=1..4"):
        parse_target("TCPIP::h::5025::SOCKET,chan=2")


def test_a_missing_visa_package_names_the_extra():
    code = ("import sys; sys.modules['pyvisa'] = None\n"
            "from energy_monitor.scpi import ScpiSmu\n"
            "try:\n    ScpiSmu('TCPIP::127.0.0.1::1::SOCKET').open()\nexcept Exception as e:\n"
            "    print(type(e).__name__, e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "MonitorError" in out and "pip install 'tiny-runner[scpi]'" in out


def test_scan_asks_each_visa_instrument_but_not_serial_ports():
    import pyvisa

    from energy_monitor.scpi.plugin import _visa_sessions, scan

    assert not any("ASRL" in interface for interface, _ in _visa_sessions())  # serial ports are never listed

    def broken_lister():
        raise OSError("no permission on /dev/bus/usb")

    emulator = ScpiSmuEmulator(SuppliedBench(0.02))
    emulator.start()
    manager = pyvisa.ResourceManager("@py")
    listed = [emulator.address, "ASRL/dev/ttyACM0::INSTR", "TCPIP::127.0.0.1::1::SOCKET"]  # the last: nothing there
    try:
        found, note = scan(manager, sessions=[("TCPIP", lambda: listed)])
        assert note is None
        assert scan(manager, sessions=[("USB", broken_lister)]) == (
            [], "VISA could not list its USB: no permission on /dev/bus/usb")
    finally:
        manager.close()
        emulator.shutdown()
    assert [(f.path, f.description) for f in found] == [
        (emulator.address, f"Keysight Technologies N6705C MY56000142 ({emulator.address})")]
    assert emulator.received == ["*IDN?"]


def test_an_edge_placed_by_the_host_carries_the_energy_up_to_its_sample(tmp_path):
    """Capture.place_edge: the running total less the samples after the edge, read back from
    disk, NaN (lost) samples skipped; an index not yet received is refused."""
    from energy_monitor.base import Chunk
    from tiny_runner.run.capture import Capture

    class Scripted:
        def __init__(self, chunks):
            self.chunks = list(chunks)

        def start(self, rate_hz):
            pass

        def stop(self):
            pass

        def read_chunk(self, timeout_s):
            return self.chunks.pop(0) if self.chunks else None

    energy = np.arange(1, 201, dtype=np.float32) * 1e-6
    chunks = [Chunk(0, 1000.0, energy_j=energy[:120]), Chunk(130, 1000.0, energy_j=energy[130:])]  # 10 lost
    capture = Capture(Scripted(chunks), tmp_path, None, {})
    capture.start(1000.0)
    assert capture.wait(lambda c: c.received == 200, 2.0)
    edge = capture.place_edge(150)
    capture.stop()
    assert edge.cumulative_j == pytest.approx(float(energy[:120].sum() + energy[130:151].sum()), rel=1e-6)
    assert edge.sample_j == pytest.approx(151e-6)
    with pytest.raises(ValueError, match="sample 200 is not in the capture"):
        capture.place_edge(200)
    assert json.loads((tmp_path / "edges.jsonl").read_text())["placed_by"] == "host"


# -- the host's clock on the DUT's lines -------------------------------------------------------------
def test_lines_carry_the_time_they_came_in():
    link = Link("loop://", 115200)
    try:
        def later():
            time.sleep(0.1)
            link._port.write(b"m-infer-start-10\r\nm-infer-")  # a line and half of the next
            time.sleep(0.3)
            link._port.write(b"done\r\n")

        sender = threading.Thread(target=later)
        started = time.monotonic()
        sender.start()
        assert link.read_line(time.monotonic() + 2) == "m-infer-start-10"
        first = link.line_arrived
        assert link.read_line(time.monotonic() + 2) == "m-infer-done"
        sender.join()
        assert 0.1 <= first - started < 0.2
        assert link.line_arrived - first == pytest.approx(0.3, abs=0.05)  # when its newline came, not its start
    finally:
        link.close()


# -- energy runs on the virtual lab ------------------------------------------------------------------
def energy_run(cli, tmp_path, *args, code=3):
    """Short windows (20 inferences, about 3.6 s in real time): measured, then flagged as short."""
    result = cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--monitor", "scpi", "--json", "-q",
                 "--iterations", "20", "--out", str(tmp_path), *args)
    assert result.code == code, result.stderr
    return result


def test_an_energy_run_with_host_placed_edges_matches_the_ground_truth(cli, tmp_path, reference):
    data = energy_run(cli, tmp_path).json()
    assert data["monitor"]["model"] == "Keysight N6705C with N6781A" and data["monitor"]["rate_hz"] == RATE
    assert data["lab"]["speed"] == 1 and data["lab"]["realtime"] is True
    for window in data["windows"]:
        assert window["edge_timing"] == "host" and not window["problems"]
        stated = 100 * window["quantisation_uj"] / window["energy_uj"]  # the host-timing bound it states
        assert abs(window["truth_error_pct"]) < stated < 0.5
        # the pin's 2 ms hold taken off the done line: the window as long as the true one, within the jitter
        assert window["timestamp_hold_us"] == 2000 and abs(window["seconds"] - window["truth_seconds"]) < 1.5e-3
    assert data["median_energy_uj_per_inf"] == pytest.approx(7430.6, rel=0.002)  # the LPM01A's figure
    edges = [json.loads(line) for line in (Path(data["run_dir"]) / "capture" / "edges.jsonl").read_text().splitlines()]
    assert len(edges) >= 10 and len(edges) % 2 == 0 and all(e["placed_by"] == "host" for e in edges)  # and probes


@pytest.mark.parametrize("quirk, code, fragment", [
    ("interleave_modules=1", 20, "EnergyRunner issue #24"),
    ("close_after=60", 20, "no answer to 'FETC:ELOG? 100000,(@1)' within 5 s"),
    ("refuse=OUTP", 20, '-222,"Data out of range" while switching the output on'),
])
def test_smu_faults_stop_the_run_with_one_line_and_the_run_directory(cli, tmp_path, reference, quirk, code,
                                                                     fragment):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--monitor", "scpi",
                 "--iterations", "20", "--lab-monitor-quirk", quirk, "--out", str(tmp_path))
    assert_one_line_error(result, code, fragment)
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert json.loads((run_dir / "status.json").read_text())["state"] == "failed"
    if not quirk.startswith("refuse"):
        assert Path(run_dir / "capture" / "energy.f4").stat().st_size > 0  # the samples before are kept


def test_a_served_smu_is_measured_from_a_bench_file_as_on_a_real_bench(cli, tmp_path, reference):
    """`lab serve --energy-bench --monitor scpi` serves the emulated N6705 as a socket instrument
    in real time; a real board's bench file names its VISA resource; the host places the edges."""
    server = subprocess.Popen([sys.executable, "-m", "tiny_runner", "lab", "serve", "--board", BOARD, "-b", "kws",
                               "--energy-bench", "--monitor", "scpi"], stdout=subprocess.PIPE, text=True)
    try:
        server.stdout.readline()
        ports = dict(server.stdout.readline().split() for _ in range(2))
        bench = tmp_path / "smu-desk.toml"
        bench.write_text(f'name = "smu-desk"\nboard = "nucleo-l4r5zi"\n[relay]\nkind = "ifboard"\n'
                         f'port = "{ports["relay"]}"\n[monitor]\nkind = "scpi"\n'
                         f'port = "{ports["monitor"]},channel=1"\n')
        result = cli("measure", "--bench", str(bench), "-b", "kws", "--mode", "energy", "--json", "-q",
                     "--iterations", "10", "--out", str(tmp_path / "runs"))
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.code == 3, result.stderr  # short windows on purpose
    data = result.json()
    assert data["monitor"]["module"] == "N6781A" and data["monitor"]["port"] == ports["monitor"]
    assert all(len(w["edges"]) == 2 and w["edge_timing"] == "host" and not w["problems"] for w in data["windows"])
    assert data["median_energy_uj_per_inf"] == pytest.approx(22.688e-3 * 1.8 * 181.9174e3, rel=0.01)
