"""The Joulescope driver through the Driver API, against the emulator behind FakeDriver."""

from __future__ import annotations

import inspect
import subprocess
import sys
import time

import numpy as np
import pytest

from energy_monitor import MonitorNotResponding, MonitorRefused
from energy_monitor.joulescope import Joulescope
from energy_monitor.joulescope.emulator import FakeDriver, JoulescopeEmulator
from support.power_bench import PinBench


def test_the_fake_offers_the_real_drivers_methods():
    real = pytest.importorskip("pyjoulescope_driver").Driver
    for name in ("device_paths", "open", "close", "publish", "query", "subscribe", "unsubscribe",
                 "unsubscribe_all", "publish_and_wait", "finalize"):
        assert callable(getattr(real, name)) and callable(getattr(FakeDriver, name)), name
    fake = inspect.signature(FakeDriver.subscribe).parameters
    assert list(fake)[1:4] == ["topic", "flags", "fn"]


class SupplyBench(PinBench):
    """A constant load behind an external 1.8 V supply (what a Joulescope measures)."""

    def supply_v(self):
        return 1.8


def stream(emulator, seconds, **monitor_kwargs):
    monitor = Joulescope(driver=FakeDriver(emulator.url), **monitor_kwargs)
    identity = monitor.open()
    monitor.power(True)
    monitor.start(1_000_000)
    chunks, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        chunk = monitor.read_chunk(0.1)
        if chunk is not None:
            chunks.append(chunk)
    monitor.stop()
    monitor.close()
    return identity, chunks


@pytest.mark.parametrize("model", ["js220", "js110"])
def test_energy_and_edges_at_one_megasample(model):
    bench = SupplyBench(0.04, edge_offsets_us=(100_000.25, 350_000.75), speed=1)
    emulator = JoulescopeEmulator(bench, model=model, noise_rel=0.0)
    emulator.start()
    try:
        identity, chunks = stream(emulator, 0.8)
    finally:
        emulator.shutdown()
    assert identity == {"model": model.upper(), "serial": "000001", "path": f"u/{model}/000001"}
    if model == "js110":  # IN0 rides in the current LSB
        assert emulator._topics["s/i/lsb_src"] == 2 and emulator._topics["s/i/range/select"] == "auto"
    assert bench.powered  # power(True) closed the current path (range auto)
    assert chunks[0].first_index == 0 and sum(c.dropped for c in chunks) == 0
    energy = np.concatenate([c.energy() for c in chunks])
    assert energy.mean() == pytest.approx(0.04 / 1e6, rel=1e-4)
    volts = np.concatenate([c.voltage_v for c in chunks])
    assert volts.mean() == pytest.approx(1.8, rel=1e-6)
    # GPI is sampled mid-sample: the first low sample is the one whose middle follows the edge
    assert [e for c in chunks for e in c.edges] == [100_000, 350_001]


def test_lost_messages_are_dropped_samples():
    bench = SupplyBench(0.01, speed=1)
    emulator = JoulescopeEmulator(bench, drop_every=3)
    emulator.start()
    try:
        _, chunks = stream(emulator, 0.7)
    finally:
        emulator.shutdown()
    received = sum(len(c) for c in chunks)
    dropped = sum(c.dropped for c in chunks)
    assert dropped > 0
    assert chunks[-1].first_index + len(chunks[-1]) == received + dropped  # indices stay time


def test_it_cannot_set_the_voltage():
    with pytest.raises(MonitorRefused, match="cannot set the DUT supply"):
        Joulescope(driver=object()).set_voltage(1800)


def test_several_or_no_joulescopes():
    class Many:
        def device_paths(self):
            return ["u/js220/000001", "u/js220/000002"]

    with pytest.raises(MonitorRefused, match="several Joulescopes"):
        Joulescope(driver=Many()).open()
    with pytest.raises(MonitorNotResponding, match="no Joulescope with serial 7"):
        Joulescope("7", driver=Many()).open()


def test_a_missing_driver_package_names_the_extra():
    code = ("import sys; sys.modules['pyjoulescope_driver'] = None\n"
            "from energy_monitor.joulescope import Joulescope\n"
            "try:\n    Joulescope().open()\nexcept Exception as e:\n    print(type(e).__name__, e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "MonitorNotResponding" in out and "pip install 'tiny-runner[joulescope]'" in out
