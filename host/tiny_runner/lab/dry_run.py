"""A dry run of the energy wiring: a real DUT, on its own UART port, behind the virtual lab's
emulated pass-through board and energy monitor. It checks the energy build's protocol, the
run procedure and the monitor's path through the runner before the instruments are wired;
the energy it reports is the emulated physics', never a measurement.

The real DUT's timestamp pin reaches no instrument, so the pin is placed from the UART lines
that frame the timed region (tiny_protocol.md §6.3): the start edge when `m-infer-start-N`
has arrived (the firmware pulses right after sending it), the end edge when `m-infer-done`
began to arrive (the firmware pulses right before sending it), i.e. its arrival less its
time on the wire. Between them the DUT draws the profile's compute current (the board's, or
the nominal one lab/start.py names). Bench time is
the wall clock held back by a margin, so an edge placed in the past by the wire time is
still ahead of what the monitor has sampled.

The monitor's power switch cannot reach a board that is already running: powering on only
starts the emulated current, and the host's handshake finds the DUT running. The port is read
by a thread, so any pyserial URL serves (rfc2217:// has no file descriptor to wait on) and
each line is timed as it arrives.
"""

from __future__ import annotations

import json
import os
import queue
import select
import sys
import threading
import time
from pathlib import Path

import serial

from energy_monitor.pty_port import PtyPort

from .bench_process import Bench, BenchConfig, announce, emulated_monitor, emulated_relay
from .physics import Physics, PowerProfile

_LAG_US = 200_000.0  # bench time behind the wall clock: more than a line's wire time at 9600 baud
_BITS_PER_BYTE = 10  # 8N1
_START = b"m-infer-start-"
_DONE = b"m-infer-done"


class WallTimeline:
    """Bench time in microseconds: the wall clock, held back by _LAG_US."""

    def __init__(self, wall=time.monotonic):
        self._wall = wall

    def wall_us(self) -> float:
        return self._wall() * 1e6

    def horizon_us(self) -> float:
        return self.wall_us() - _LAG_US

    now_exact_us = horizon_us


class TimedRegion:
    """Reads the DUT's UART lines and drives the pin and the current from the two that frame
    the timed region."""

    def __init__(self, physics: Physics, timeline: WallTimeline, baud: int, pulse_hold_us: float):
        self.physics = physics
        self.timeline = timeline
        self.us_per_byte = _BITS_PER_BYTE * 1e6 / baud
        self.pulse_hold_us = pulse_hold_us
        self._pending = b""
        self._last_edge_us = 0.0

    def feed(self, data: bytes) -> None:
        arrived_us = self.timeline.wall_us()  # ahead of the monitor's horizon by _LAG_US
        *lines, self._pending = (self._pending + data).split(b"\n")
        for line in lines:
            text = line.strip()
            if text.startswith(_START):
                self._edge(arrived_us, "compute")
            elif text == _DONE:
                self._edge(arrived_us - len(line + b"\n") * self.us_per_byte, "idle")

    def _edge(self, t_us: float, then: str) -> None:
        # never before the previous pulse ended: a slow port delivers lines in bursts
        t_us = max(t_us, self._last_edge_us + self.pulse_hold_us)
        self.physics.pin(0, t_us)
        self.physics.pin(1, t_us + self.pulse_hold_us)
        self.physics.level(t_us, then)
        self._last_edge_us = t_us + self.pulse_hold_us


class DutReader(threading.Thread):
    """Reads the real DUT's port: times the lines as they arrive, queues the bytes for the
    pass-through board (which the main loop alone touches) and wakes the loop."""

    def __init__(self, dut, region: TimedRegion):
        super().__init__(daemon=True)
        self.dut = dut
        self.region = region
        self.received: queue.Queue[bytes] = queue.Queue()
        self.failure: str | None = None
        self.wake_read, self._wake_write = os.pipe()
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                data = self.dut.read(max(1, self.dut.in_waiting))
                if data:
                    self.region.feed(data)
                    self.received.put(data)
                    os.write(self._wake_write, b"d")
        except (serial.SerialException, OSError) as exc:
            if not self._stopping.is_set():
                self.failure = str(exc)
                os.write(self._wake_write, b"x")

    def take(self) -> bytes:
        os.read(self.wake_read, 4096)
        chunks = []
        while not self.received.empty():
            chunks.append(self.received.get_nowait())
        return b"".join(chunks)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=1.0)


def serve_dry_run(config: BenchConfig) -> None:
    """Run until `quit` on stdin. The DUT's port is opened here, so the host never holds it."""
    try:
        dut = serial.serial_for_url(config.dut_url, baudrate=config.baud, timeout=0.05)
    except (serial.SerialException, ValueError, OSError) as exc:
        print(f"failed {json.dumps({'port': config.dut_url, 'reason': str(exc)})}", flush=True)
        raise SystemExit(2) from None
    timeline = WallTimeline()
    physics = Physics(PowerProfile.from_ma(config.power_ma), timeline,
                      Path(config.truth_path) if config.truth_path else None)
    bench = Bench(timeline, physics)
    reader = DutReader(dut, TimedRegion(physics, timeline, config.baud, config.pulse_hold_us))
    endpoint = PtyPort()
    board = emulated_relay(config, endpoint, dut.write)
    monitor = emulated_monitor(config, bench)
    monitor.start()
    reader.start()
    announce({"relay": endpoint.url, "monitor": monitor.address}, True)
    stdin = sys.stdin.fileno()
    try:
        while True:
            readable, _, _ = select.select([stdin, endpoint, reader.wake_read, bench._wake_read], [], [])
            if stdin in readable:
                line = sys.stdin.readline()
                if not line or line.strip() == "quit":
                    break
            if bench._wake_read in readable:
                bench.take_power_events()  # the emulated current follows; the real board runs on
            if endpoint in readable:
                data = endpoint.read()
                if data:
                    board.from_host(data)
            if reader.wake_read in readable:
                board.from_dut(reader.take())
                if reader.failure:
                    print(f"dry run: the DUT's port {config.dut_url} failed: {reader.failure}", file=sys.stderr,
                          flush=True)
                    raise SystemExit(3)
    finally:
        reader.stop()
        monitor.shutdown()
        physics.close()
        endpoint.close()
        dut.close()
    print("stats {}", flush=True)
