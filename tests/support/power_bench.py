"""Benches the monitor emulators draw from in the drivers' tests: a constant load, with the
DUT's timestamp edges at fixed offsets after the acquisition starts."""

from __future__ import annotations

import time

import numpy as np


class ConstantBench:
    """Constant power, falling edges at given offsets (virtual us) after the acquisition starts."""

    def __init__(self, power_w: float, edge_offsets_us=(), speed: float = 20.0):
        self.power_w, self.speed = power_w, speed
        self.t0 = time.monotonic()
        self.offsets = list(edge_offsets_us)
        self.edges: list[float] = []
        self.powered, self.volts, self.notes = False, None, []

    def horizon_us(self):
        return (time.monotonic() - self.t0) * self.speed * 1e6

    def energy_at(self, times_us):
        return self.power_w * np.asarray(times_us) * 1e-6

    def falling_edges_until(self, t_us):
        out = [e for e in self.edges if e <= t_us]
        self.edges = [e for e in self.edges if e > t_us]
        return out

    def note(self, record):
        self.notes.append(record)
        if "acquisition_start_us" in record:
            self.edges = [record["acquisition_start_us"] + o for o in self.offsets]

    def set_power(self, on):
        self.powered = on

    def set_voltage(self, volts):
        self.volts = volts

    def forget_before(self, t_us):
        pass


class PinBench(ConstantBench):
    """A constant load whose timestamp pin pulses low for 2 ms at each edge offset."""

    def pin_events_until(self, t_us):
        return [event for edge in self.falling_edges_until(t_us) for event in ((edge, 0), (edge + 2000, 1))]


def read_for(monitor, seconds: float, poll_s: float = 0.1):
    """The chunks a started monitor delivers in `seconds`, and the MonitorDataError that ended
    the reading early (or None)."""
    from energy_monitor.errors import MonitorDataError

    chunks, deadline = [], time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if (chunk := monitor.read_chunk(poll_s)) is not None:
                chunks.append(chunk)
    except MonitorDataError as exc:
        return chunks, exc
    return chunks, None
