"""The Keithley 2450 / 2461 SourceMeters through the scpi plug-in: the driver against the emulated
instrument (exact commands, the buffer's readings resampled onto the grid with their charge
kept, the buffer's wrap, refusals, an instrument gone), and an energy run on the virtual lab
whose windows are compared with the lab's ground truth."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error
from energy_monitor.errors import MonitorDataError, MonitorRefused
from energy_monitor.scpi.keithley import _Resampler
from energy_monitor.scpi.keithley_emulator import Faults, KeithleyEmulator
from energy_monitor.scpi.smu import RATES_HZ, ScpiSmu
from support.scpi_socket import scpi_socket
from support.smu_run import SuppliedBench
from support.smu_run import run_smu as run_smu_against

RATE = RATES_HZ[0]
BOARD = "virtual-l4r5zi"
POLL = 'TRAC:ACT:END? "defbuffer1"'


def run_smu(faults: Faults, seconds: float = 0.6, binary: bool = True):
    return run_smu_against(KeithleyEmulator, faults, RATE, seconds, binary)


SETUP = ["*IDN?", "*LANG?", "*RST", "*CLS", "SYST:ERR?",
         "SOUR:FUNC VOLT", "SOUR:VOLT:RANG 1.8", "SOUR:VOLT 1.8", "SOUR:VOLT:ILIM 0.2", "SYST:ERR?", "SOUR:VOLT?",
         "OUTP ON", "SYST:ERR?"]
BUFFER = ['TRAC:POIN 1000000,"defbuffer1"', 'TRAC:POIN? "defbuffer1"', 'TRAC:CLE "defbuffer1"',
          'TRAC:FILL:MODE CONT,"defbuffer1"', "FORM:DATA REAL", ":FORM:BORD SWAP"]


@pytest.mark.parametrize("model, measure, trigger", [
    ("2450", ['SENS:FUNC "CURR"', "SENS:CURR:RANG:AUTO ON", "SENS:CURR:NPLC 0.01", "SENS:CURR:AZER OFF"],
     ['TRIG:LOAD "DurationLoop",100000,0,"defbuffer1"']),
    ("2461", ['DIG:FUNC "CURR"', "DIG:CURR:RANG 0.1", "DIG:CURR:SRAT 10000"],
     ['TRIG:LOAD "Empty"', "TRIG:BLOC:BUFF:CLE 1", 'TRIG:BLOC:DIG 2,"defbuffer1",INF']),
])
def test_the_driver_sends_the_documented_commands(model, measure, trigger):
    smu, chunks, error, bench, emulator = run_smu(Faults(model=model, noise_rel=0.0), seconds=0.4)
    assert error is None and bench.volts == 1.8 and bench.powered
    commands = [c for c in emulator.received if c != POLL and not c.startswith("TRAC:DATA?")]
    assert commands == SETUP + measure + BUFFER + trigger + ["SYST:ERR?", "INIT", ":SYST:ERR?", "ABOR"]
    assert emulator.received.count(POLL) >= 3
    reads = [c for c in emulator.received if c.startswith("TRAC:DATA?")]
    assert reads[0].startswith('TRAC:DATA? 1,') and reads[0].endswith(',"defbuffer1",READ,REL')
    identity = smu.identity
    assert (identity["model"], identity["serial"], identity["firmware"], identity["command_set"]) == (
        f"Keithley {model}", "04512345", "1.7.12b", "SCPI")
    assert identity["voltage_read_back_v"] == 1.8 and identity["digitizer"] == (model == "2461")
    assert identity["buffer_readings"] == 1_000_000
    # the first reading's instant is not the trigger's: one reading interval more uncertainty
    interval = 1e-4 if model == "2461" else 300e-6
    assert 0.002 + interval <= identity["edge_uncertainty_s"] < 0.05


@pytest.mark.parametrize("model", ["2450", "2461"])
@pytest.mark.parametrize("binary", [True, False], ids=["ieee-block", "ascii"])
def test_readings_become_grid_samples_with_their_energy(model, binary):
    smu, chunks, error, _, _ = run_smu(Faults(model=model, noise_rel=0.0), binary=binary)
    assert error is None and len(chunks) >= 3
    energy = np.concatenate([c.energy() for c in chunks])
    assert len(energy) > 0.4 * RATE  # about as many samples as the wall clock allows
    assert energy.mean() == pytest.approx(0.02 / RATE, rel=1e-5)  # 20 mW, whatever the readings' spacing
    assert [c.first_index for c in chunks] == list(np.cumsum([0] + [len(c) for c in chunks[:-1]]))


def test_the_resampler_keeps_the_charge_of_irregular_readings():
    """The current held from one reading to the next: the grid's charge up to its last sample is
    the integral of that step function, however the readings are split between fetches."""
    rng = np.random.default_rng(1)
    times = np.cumsum(rng.uniform(150e-6, 450e-6, 4000))
    times -= times[0]
    amps = rng.uniform(1e-3, 30e-3, len(times))
    whole = _Resampler(RATE).add(amps, times)
    parts = _Resampler(RATE)
    pieces = np.concatenate([parts.add(amps[a:b], times[a:b]) for a, b in ((0, 7), (7, 1500), (1500, 1501),
                                                                           (1501, 4000))])
    assert len(pieces) == len(whole) == int(times[-1] * RATE)
    np.testing.assert_allclose(pieces, whole, rtol=1e-5)
    end = len(whole) / RATE
    exact = np.sum(amps[:-1] * np.diff(times), where=times[1:] <= end) + amps[np.searchsorted(times, end) - 1] * (
        end - times[np.searchsorted(times, end) - 1])
    assert whole.sum() / RATE == pytest.approx(exact, rel=1e-5)


def test_a_buffer_overwritten_before_it_was_read_stops_the_stream():
    """A buffer smaller than asked (2000 readings, 0.2 s of the digitizer) and an instrument
    that stalls for 0.5 s: readings are lost, which shows as a jump in their times."""
    _, chunks, error, _, _ = run_smu(Faults(model="2461", capacity=2000, stall_after=4, stall_s=0.5), seconds=1.5)
    assert error is not None and "overwrote readings before they were fetched" in str(error)
    assert chunks  # what came before is kept


@pytest.mark.parametrize("faults, message", [
    (Faults(language="TSP"), r"runs its TSP command set; switch it to SCPI \(MENU > System > Settings"),
    (Faults(idn="KEITHLEY INSTRUMENTS,MODEL 2400,1234567,C32"),
     "is a KEITHLEY INSTRUMENTS MODEL 2400; tiny-runner drives the Keysight N6705 .* and the Keithley 2450, 2460"),
    (Faults(refuse="SOUR:VOLT"), r'reported -222,"Data out of range" while setting 1800 mV with a 0.2 A limit'),
])
def test_an_instrument_that_cannot_be_used_is_refused(faults, message):
    with pytest.raises(MonitorRefused, match=message):
        run_smu(faults)


def test_a_keithley_has_one_channel():
    bench = SuppliedBench(0.02, speed=1)
    emulator = KeithleyEmulator(bench)
    emulator.start()
    try:
        with pytest.raises(MonitorRefused, match="a Keithley SourceMeter has one channel, not channel=2"):
            ScpiSmu(emulator.address + ",channel=2").open()
    finally:
        emulator.shutdown()


def test_an_instrument_gone_mid_run_ends_the_stream():
    _, chunks, error, _, _ = run_smu(Faults(close_after=5), seconds=2.0)
    assert isinstance(error, MonitorDataError) and "within 1 s" in str(error) and "TRAC:DATA?" in str(error)
    assert chunks


def test_the_emulator_speaks_the_sourcemeters_scpi():
    """Raw bytes: the error queue's own text, quoted strings, the indefinite binary block."""
    bench = SuppliedBench(0.02, speed=1)
    emulator = KeithleyEmulator(bench, faults=Faults(model="2461", noise_rel=0.0))
    emulator.start()
    try:
        with scpi_socket(emulator.port) as (ask, conn, reader):
            assert ask("*LANG?") == b"SCPI\n"
            assert ask("SYST:ERR?") == b'0,"No error;0;0 0"\n'
            assert ask('SENSe:FUNCtion "VOLT";:SYST:ERR?') == (
                b'-224,"Illegal parameter value;only current is emulated"\n')
            assert ask('TRAC:DATA? 1,2,"defbuffer1",READ,REL;:SYST:ERR?') == (
                b'-222,"Data out of range;buffer empty"\n')
            assert ask(':SOUR:VOLT 1.8;:OUTP ON;:DIG:FUNC "CURR";:DIG:CURR:SRAT 1000;:FORM:DATA REAL;'
                       ':TRIG:LOAD "Empty";:TRIG:BLOC:BUFF:CLE 1;:TRIG:BLOC:DIG 2,"defbuffer1",INF;:INIT;'
                       ':SYST:ERR?') == b'0,"No error;0;0 0"\n'
            time.sleep(0.05)
            assert int(ask('TRAC:ACT:END? "defbuffer1"')) >= 4
            conn.sendall(b'TRAC:DATA? 1,4,"defbuffer1",READ,REL\n')
            assert reader.read(2) == b"#0"  # indefinite length: 4 (reading, time) pairs of float64
            values = np.frombuffer(reader.read(64), dtype="<f8")
            assert reader.read(1) == b"\n"
            np.testing.assert_allclose(values[1::2], [0, 1e-3, 2e-3, 3e-3], atol=1e-12)
            np.testing.assert_allclose(values[0::2], 0.02 / 1.8, rtol=1e-9)
    finally:
        emulator.shutdown()


# -- energy runs on the virtual lab ------------------------------------------------------------------
@pytest.mark.parametrize("model", ["2450", "2461"])
def test_an_energy_run_on_a_sourcemeter_matches_the_ground_truth(cli, tmp_path, reference, model):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--monitor", "scpi", "--json", "-q",
                 "--iterations", "20", "--lab-monitor-quirk", f"model={model}", "--out", str(tmp_path))
    assert result.code == 3, result.stderr  # short windows on purpose
    data = result.json()
    assert data["monitor"]["model"] == f"Keithley {model}" and data["lab"]["realtime"] is True
    for window in data["windows"]:
        assert window["edge_timing"] == "host" and not window["problems"]
        stated = 100 * window["quantisation_uj"] / window["energy_uj"]
        assert abs(window["truth_error_pct"]) < stated < 0.5
        # the pin's 2 ms hold taken off the done line: the window as long as the true one, within the jitter
        assert window["timestamp_hold_us"] == 2000 and abs(window["seconds"] - window["truth_seconds"]) < 1.5e-3
    assert data["median_energy_uj_per_inf"] == pytest.approx(7430.6, rel=0.002)  # the LPM01A's figure


def test_a_sourcemeter_in_its_tsp_command_set_stops_the_run_with_one_line(cli, tmp_path, reference):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--monitor", "scpi",
                 "--iterations", "20", "--lab-monitor-quirk", "model=2450", "--lab-monitor-quirk", "language=TSP",
                 "--out", str(tmp_path))
    assert_one_line_error(result, 20, "runs its TSP command set; switch it to SCPI")
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert json.loads((run_dir / "status.json").read_text())["state"] == "failed"
    assert Path(run_dir / "monitor-wire.log").read_text().count("*LANG?") == 1


def test_the_model_switch_picks_the_emulator_and_refuses_the_other_ones_switches(cli, tmp_path, reference):
    from energy_monitor.scpi.plugin import PLUGIN

    assert PLUGIN.parse_switches({"model": "2461", "stall_s": "0.5"}) == {"model": "2461", "stall_s": 0.5}
    with pytest.raises(ValueError, match="N6705C or 2450, 2460, 2461, not 'B2901A'"):
        PLUGIN.parse_switches({"model": "B2901A"})
    with pytest.raises(ValueError, match="the emulated N6705C has no switch language"):
        PLUGIN.parse_switches({"language": "TSP"})
    result = cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--monitor", "scpi",
                 "--lab-monitor-quirk", "model=2450", "--lab-monitor-quirk", "interleave_modules=1",
                 "--out", str(tmp_path))
    assert_one_line_error(result, 2, "--lab-monitor-quirk: the emulated 2450 has no switch interleave_modules")
