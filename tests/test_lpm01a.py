"""The LPM01A: number formats, the stream parser, and the driver against the emulator."""

from __future__ import annotations

import os
import threading
import time
import tty

import numpy as np
import pytest

from energy_monitor import MonitorFirmwareTooOld, MonitorNotResponding, MonitorRefused
from energy_monitor.lpm01a import Lpm01a
from energy_monitor.lpm01a.codec import (
    decode_binary,
    encode_binary,
    format_ascii,
    format_ascii_lines,
    parse_ascii_samples,
)
from energy_monitor.lpm01a.emulator import Lpm01aEmulator, Quirks
from energy_monitor.lpm01a.stream import AsciiStreamParser, BinaryStreamParser
from support.power_bench import ConstantBench


# -- formats (energy_monitors.md §1.6-1.7 worked examples) -----------------------------------------
def test_ascii_samples():
    assert format_ascii(640.9e-6) == "6409-07"
    assert format_ascii(9.362e-5) == "9362-08"
    assert format_ascii(1.958e-9) == "1958-12"
    assert format_ascii(0.99996) == "1000-03"  # rounding carries into the exponent
    assert list(parse_ascii_samples(b"6409-079362-08")) == pytest.approx([640.9e-6, 9.362e-5])
    values = np.random.default_rng(1).lognormal(-10, 3, 5000)
    rows = format_ascii_lines(values)
    assert [bytes(r).decode() for r in rows[:50]] == [format_ascii(v) + "\r\n" for v in values[:50]]
    assert np.allclose(parse_ascii_samples(rows[:, :7].tobytes()), values, rtol=5.1e-4)  # 4 significant digits


def test_binary_samples():
    assert encode_binary(np.array([640.9e-6, 79.35e-3, 372.5e-9])).hex() == "52a031458640"
    assert decode_binary(bytes.fromhex("52a031458640")) == pytest.approx([672 / 16**5, 325 / 16**3, 1600 / 16**8])
    values = np.random.default_rng(2).lognormal(-9, 2, 5000)
    # a mantissa of at least 256 (else a larger n would fit): rounding within 0.5/256 = 0.2 %
    assert np.allclose(decode_binary(encode_binary(values)), values, rtol=0.5 / 256)
    with pytest.raises(ValueError):
        decode_binary(b"\xf0\xf3")


# -- the stream parser -----------------------------------------------------------------------------
def test_ascii_stream_events_nul_glue_and_dropped_samples():
    parser = AsciiStreamParser(1000)
    out = parser.feed(b"1000-06\r\n1000-06\r\nevent 00 ris\r\n\x002000-061000-06\r\n")
    assert [list(o.values) for o in out] == [pytest.approx([1e-3, 1e-3, 2e-3, 1e-3])]
    assert out[0].edges == [1]  # the sample during which the edge happened
    out = parser.feed(b"TimeStamp: 000s 010ms, buff 05%\r\n3000-06\r\nend\r\nPowerShield > Acquisition completed\r\n")
    assert out[0].dropped == 6 and out[0].buffer_pct == 5  # 10 samples due at 10 ms, 4 received
    assert out[1].first_index == 10 and list(out[1].values) == pytest.approx([3e-3]) and out[1].ended
    assert parser.ended and parser.take_leftover() == b"PowerShield > Acquisition completed\r\n"


def test_ascii_stream_keeps_partial_lines():
    parser = AsciiStreamParser(1000)
    assert parser.feed(b"1234-0") == []
    assert list(parser.feed(b"9\r\n")[0].values) == pytest.approx([1.234e-6])


def test_binary_stream_records_and_resync():
    parser = BinaryStreamParser(100_000)
    samples = encode_binary(np.array([1e-3] * 3))
    event = b"\xf0\xf2event 00 ris\r\n\xff\xff"
    stamp = b"\xf0\xf3" + (1).to_bytes(4, "big") + b"\x07\xff\xff"  # 1 ms = 100 samples due
    data = samples + event + samples + stamp + samples + b"\xf0\xf4\xff\xffPowerShield > ack stop\r\n"
    out = parser.feed(data[:7]) + parser.feed(data[7:])  # a record split across reads
    values = np.concatenate([o.values for o in out])
    assert len(values) == 9 and np.allclose(values, 1e-3, rtol=1e-3)
    assert [e for o in out for e in o.edges] == [2]
    assert sum(o.dropped for o in out) == 94 and out[-1].first_index == 100
    assert parser.ended and parser.take_leftover() == b"PowerShield > ack stop\r\n"


# -- the driver against the emulator ---------------------------------------------------------------
def capture(monitor: Lpm01a, rate_hz: float, seconds: float):
    monitor.set_voltage(1800)
    monitor.power(True)
    monitor.start(rate_hz)
    chunks = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        chunk = monitor.read_chunk(0.2)
        if chunk is not None:
            chunks.append(chunk)
    monitor.stop()
    while (chunk := monitor.read_chunk(0.3)) is not None:
        chunks.append(chunk)
    return chunks


@pytest.mark.parametrize("rate_hz, speed, edges_us", [(1000, 20, (1_200_250, 3_500_750)),
                                                      (100_000, 1, (120_005, 350_015))])
def test_driver_streams_energy_and_edges(rate_hz, speed, edges_us):
    bench = ConstantBench(0.04, edge_offsets_us=edges_us, speed=speed)
    emulator = Lpm01aEmulator(bench, quirks=Quirks(noise_rel=0.0))
    emulator.start()
    try:
        monitor = Lpm01a(emulator.path)
        identity = monitor.open()
        chunks = capture(monitor, rate_hz, edges_us[-1] / 1e6 / speed * 1.5 + 0.5)
        monitor.close()
    finally:
        emulator.shutdown()
    assert identity["firmware"] == "1.0.7" and bench.powered  # `pwr on nostatus` reached the bench
    assert bench.volts == 1.8
    energy = np.concatenate([c.energy_j for c in chunks])
    assert chunks[0].first_index == 0 and sum(c.dropped for c in chunks) == 0
    assert np.allclose(energy, 0.04 / rate_hz, rtol=0.5 / 256)  # 4 digits (ASCII) or 12 bits (binary)
    period = 1e6 / rate_hz
    assert [e for c in chunks for e in c.edges] == [int(t // period) for t in edges_us]


def test_driver_copes_with_a_units_quirks():
    bench = ConstantBench(0.02, edge_offsets_us=(500_500,))
    quirks = Quirks(stale_stream=True, duplicate_ack=True, nul_after_timestamp=True, glue_every=7, drop_every=2)
    emulator = Lpm01aEmulator(bench, quirks=quirks)
    emulator.start()
    try:
        monitor = Lpm01a(emulator.path)
        monitor.open()  # stale data and the stale stream's end do not pose as acks
        chunks = capture(monitor, 1000, 0.25)
        monitor.close()
    finally:
        emulator.shutdown()
    received = sum(len(c) for c in chunks)
    dropped = sum(c.dropped for c in chunks)
    assert dropped and dropped % 10 == 0  # every 2nd TimeStamp period lost its last 10 samples
    last = chunks[-1].first_index + len(chunks[-1])
    assert received + dropped == last  # indices stay time: lost samples leave gaps
    assert [e for c in chunks for e in c.edges] == [500]


def test_old_firmware_and_refused_commands():
    for quirks, error, text in [(Quirks(firmware="1.0.5"), MonitorFirmwareTooOld, "1.0.5; energy runs need 1.0.6"),
                                (Quirks(refuse="volt"), MonitorRefused, "refused 'volt 1800m': command failed")]:
        bench = ConstantBench(0.01)
        emulator = Lpm01aEmulator(bench, quirks=quirks)
        emulator.start()
        monitor = Lpm01a(emulator.path)
        try:
            with pytest.raises(error, match=text):
                monitor.open()
                monitor.set_voltage(1800)
        finally:
            monitor.close()
            emulator.shutdown()


def test_voltage_outside_the_range_is_refused_before_sending():
    bench = ConstantBench(0.01)
    emulator = Lpm01aEmulator(bench)
    emulator.start()
    monitor = Lpm01a(emulator.path)
    try:
        monitor.open()
        with pytest.raises(MonitorRefused, match="1800..3300 mV, not 1200 mV"):
            monitor.set_voltage(1200)
    finally:
        monitor.close()
        emulator.shutdown()


def test_silent_port_is_not_responding():
    master, slave = os.openpty()
    tty.setraw(slave)
    drain = threading.Thread(target=lambda: os.read(master, 4096), daemon=True)
    drain.start()
    monitor = Lpm01a(os.ttyname(slave), ack_timeout_s=0.3)
    try:
        with pytest.raises(MonitorNotResponding, match="did not acknowledge 'htc' within 0.3 s"):
            monitor.open()
    finally:
        monitor.close()
        os.close(master)
        os.close(slave)
