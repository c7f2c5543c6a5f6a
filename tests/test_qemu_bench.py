"""The energy bench's view of the firmware under QEMU: its time base and event stream."""

from __future__ import annotations

import numpy as np
import pytest

from tiny_runner.lab.physics import Physics, PowerProfile
from tiny_runner.lab.qemu_bench import DutTimeline, EventReader, _apply


class FakeWall:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_time_follows_the_wall_while_off_and_the_firmware_while_on():
    wall = FakeWall()
    timeline = DutTimeline(wall)
    wall.now += 2.0
    assert timeline.horizon_us() == pytest.approx(2e6)
    on_at = timeline.power(True)
    assert on_at == pytest.approx(2e6)
    wall.now += 5.0  # QEMU starting: nothing reported, bench time waits for the firmware
    assert timeline.horizon_us() == pytest.approx(2e6)
    assert timeline.at(250_000) == pytest.approx(2e6 + 10_000)  # 25 ticks per microsecond
    timeline.reached(250_000)
    timeline.reached(100)  # an older event never moves time back
    assert timeline.horizon_us() == pytest.approx(2e6 + 10_000)
    off_at = timeline.power(False)
    assert off_at == pytest.approx(2e6 + 10_000)
    wall.now += 1.0
    assert timeline.horizon_us() == pytest.approx(2e6 + 10_000 + 1e6)
    assert timeline.power(True) == pytest.approx(3.01e6)  # the next power-on restarts the firmware's clock
    assert timeline.at(0) == pytest.approx(3.01e6)


def test_event_lines_split_across_reads(capsys):
    reader = EventReader()
    assert reader.feed(b"B12") == []
    assert reader.feed(b"5\nL250000\nH2") == [("B", 125), ("L", 250000)]
    assert reader.feed(b"75000\nT500000\n") == [("H", 275000), ("T", 500000)]
    assert reader.feed(b"garbage\n") == []
    assert "unreadable event line 'garbage'" in capsys.readouterr().err


def test_events_drive_the_current_and_the_pin():
    wall = FakeWall()
    timeline = DutTimeline(wall)
    physics = Physics(PowerProfile(boot_a=0.02, idle_a=0.005, uart_a=0.02, compute_a=0.02), timeline)
    physics.set_voltage(2.0, 0.0)
    start = timeline.power(True)
    physics.set_power(True, start)
    physics.level(start, "boot")
    for letter, ticks in [("I", 25_000), ("B", 75_000), ("L", 100_000), ("H", 125_000), ("I", 150_000),
                          ("T", 250_000)]:
        _apply(letter, ticks, timeline, physics)
    assert timeline.horizon_us() == pytest.approx(start + 10_000)
    # busy 0-1 ms, idle 1-3 ms, busy 3-6 ms, idle 6-10 ms (power in W x seconds)
    expected = 0.04 * 1e-3 + 0.01 * 2e-3 + 0.04 * 3e-3 + 0.01 * 4e-3
    energy = np.diff(physics.energy_at(np.array([start, start + 10_000])))[0]
    assert energy == pytest.approx(expected, rel=1e-12)
    assert physics.pin_events_until(start + 10_000) == [(start + 4_000, 0), (start + 5_000, 1)]
