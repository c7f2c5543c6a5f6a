"""The PPK2: sample words, metadata, the counter-checked stream, and the driver vs its emulator."""

from __future__ import annotations

import time

import numpy as np
import pytest

from energy_monitor import MonitorRefused
from energy_monitor.ppk2 import Ppk2, codec
from energy_monitor.ppk2.driver import SampleStream
from energy_monitor.ppk2.emulator import Faults, Ppk2Emulator
from support.power_bench import PinBench
from support.serial_device import ScriptedDevice


def test_the_worked_example_word():
    code, rng, counter, logic = codec.split_words(np.frombuffer(bytes.fromhex("E8031401"), "<u4"))
    assert (code[0], rng[0], counter[0], logic[0]) == (1000, 0, 5, 1)
    assert codec.current_a(code, rng, codec.Modifiers(), 3.3)[0] == pytest.approx(42.60e-6, abs=0.005e-6)


def test_metadata_keeps_defaults_for_blank_calibration():
    text = "Calibrated: 0\nR0: 1000.5\nR1: 0\nR2: -nan\nGS3: 0.001\nUG4: 1.02\nHW: 8432\nEND\nstray"
    values, modifiers = codec.parse_metadata(text)
    assert values["hw"] == "8432"
    assert modifiers.r[:3] == [1000.5, codec.DEFAULT_SHUNTS[1], codec.DEFAULT_SHUNTS[2]]
    assert modifiers.gs[3] == 0.001 and modifiers.ug[4] == 1.02


def test_encoding_picks_the_most_sensitive_range_and_round_trips():
    amps = np.array([42.6e-6, 5e-4, 22.7e-3, 0.3, 2.0])
    modifiers = codec.Modifiers(gs=[0.002] * 5)  # a quadratic term too
    words = codec.encode_words(amps, np.arange(5), np.full(5, 0xFE), modifiers, 1.8)
    code, rng, counter, logic = codec.split_words(words)
    assert list(rng) == [0, 0, 2, 3, 4] and list(counter) == [0, 1, 2, 3, 4] and set(logic) == {0xFE}
    assert np.allclose(codec.current_a(code, rng, modifiers, 1.8), amps, rtol=2e-3)


def stream_of(n: int) -> bytearray:
    words = codec.encode_words(np.full(n, 0.01), np.arange(n) % 64, np.full(n, 0xFF), codec.Modifiers(), 1.8)
    return bytearray(words.tobytes())


def feed_all(stream: SampleStream, data: bytes, piece: int = 333) -> list:
    runs = []
    for i in range(0, len(data), piece):
        runs += stream.feed(bytes(data[i:i + piece]))
    return runs


def test_counter_gaps_byte_slips_and_a_misaligned_start_are_found():
    data = stream_of(1000)
    del data[400 * 4: 410 * 4]  # 10 samples lost
    del data[700 * 4 + 1]  # one byte lost: the stream slips, a sample with it
    data = b"\x12\x34" + bytes(data)  # stray bytes before the first word
    stream = SampleStream(codec.Modifiers(), 1.8, 0)
    runs = feed_all(stream, data)
    assert sum(len(r[1]) for r in runs) == 989
    assert stream.dropped_total == 11 and stream.index == 1000  # indices stay time
    assert stream.skipped_bytes == 2 + 3
    assert all(np.allclose(r[1], 0.01, rtol=1e-3) for r in runs)


def test_driver_sends_the_documented_bytes():
    metadata = codec.format_metadata(codec.Modifiers(), 3300, 1).encode()
    script = [(b"\x07", b""), (b"\x19", metadata), (b"\x11\x02", b""), (b"\x0d\x07\x08", b""), (b"\x0c\x01", b""),
              (b"\x06", b""), (b"\x07", b""), (b"\x0c\x00", b"")]
    with ScriptedDevice(script) as dev:
        ppk = Ppk2(dev.url)
        assert ppk.open()["model"] == "PPK2"
        ppk.set_voltage(1800)
        ppk.power(True)
        ppk.start(100_000)
        ppk.stop()
        ppk.power(False)
        ppk.close()
    assert dev.mismatch is None


def test_voltage_and_rate_limits():
    ppk = Ppk2("loop://")
    with pytest.raises(MonitorRefused, match="800..5000 mV, not 700"):
        ppk.set_voltage(700)
    with pytest.raises(MonitorRefused, match="100000 samples/s only"):
        ppk.start(1000)


@pytest.mark.parametrize("faults, lost", [(Faults(noise_rel=0.0), False),
                                          (Faults(lose_byte_every=5000, gap_every=7000, misaligned_start=True), True)])
def test_driver_against_the_emulator(faults, lost):
    bench = PinBench(0.02, edge_offsets_us=(100_005, 350_015), speed=1)
    emulator = Ppk2Emulator(bench, faults=faults)
    emulator.start()
    try:
        ppk = Ppk2(emulator.path)
        ppk.open()
        ppk.set_voltage(1800)
        ppk.power(True)
        ppk.start(100_000)
        chunks, deadline = [], time.monotonic() + 0.8
        while time.monotonic() < deadline:
            chunk = ppk.read_chunk(0.1)
            if chunk is not None:
                chunks.append(chunk)
        ppk.close()
    finally:
        emulator.shutdown()
    assert bench.volts == 1.8 and bench.powered
    energy = np.concatenate([c.energy() for c in chunks])
    assert energy.mean() == pytest.approx(0.02 / 100_000, rel=2e-3)
    edges = [e for c in chunks for e in c.edges]
    dropped = sum(c.dropped for c in chunks)
    if lost:
        assert dropped > 0 and len(edges) == 2
    else:
        assert dropped == 0 and edges == [10_000, 35_001]  # the 10 us sample holding each edge
