"""The energy bench around tiny-runner's C firmware under QEMU: an emulated interface board
and energy monitor, as on the virtual bench, but the DUT is the real Cortex-M4 image.

The energy build reports on its second UART, in its own timer's ticks (25 MHz, virtual time):
the timestamp pin's edges (L, H), when the core starts waiting in WFI (I) and when it is busy
again (B), and a heartbeat every 10 ms (T). The bench's time base is that clock: while the
DUT is powered, bench time is the power-on instant plus the firmware's reported time, so the
monitor samples exactly what the firmware did, edges at 40 ns resolution; while it is off,
bench time follows the wall clock. Current is the board's compute level while the core runs
and its idle level while it sleeps.

Power from the monitor starts QEMU (the banner comes through the interface board, nothing is
lost: QEMU connects its UARTs to this process before the core starts); power off ends it.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from energy_monitor.pty_port import PtyPort

from ..run.stopping import lab_process_options
from .bench_process import Bench, BenchConfig, announce, emulated_monitor, emulated_relay
from .firmware_dut import qemu_command
from .launcher import end_process
from .physics import Physics, PowerProfile

TICKS_PER_US = 25  # CMSDK TIMER0 runs at the 25 MHz system clock
_CONNECT_TIMEOUT_S = 20.0
_ACTIVITY = {"B": "compute", "I": "idle"}
_PIN = {"L": 0, "H": 1}


class DutTimeline:
    """Bench time in microseconds (see the module docstring)."""

    def __init__(self, wall=time.monotonic):
        self._wall = wall
        self._lock = threading.Lock()
        self._on = False
        self._origin_us = 0.0  # bench time of the last power-on (firmware time zero)
        self._reported_us = 0.0  # the firmware's latest reported time
        self._off_us = 0.0  # bench time at the last power-off
        self._off_wall = wall()

    def _now(self) -> float:
        if self._on:
            return self._origin_us + self._reported_us
        return self._off_us + (self._wall() - self._off_wall) * 1e6

    def horizon_us(self) -> float:
        with self._lock:
            return self._now()

    now_exact_us = horizon_us

    def power(self, on: bool) -> float:
        """Switch at the current bench time and return that instant."""
        with self._lock:
            instant = self._now()
            if on:
                self._origin_us, self._reported_us = instant, 0.0
            else:
                self._off_us, self._off_wall = instant, self._wall()
            self._on = on
            return instant

    def at(self, ticks: int) -> float:
        """Bench time of a firmware timestamp (ticks since its reset)."""
        return self._origin_us + ticks / TICKS_PER_US

    def reached(self, ticks: int) -> None:
        with self._lock:
            self._reported_us = max(self._reported_us, ticks / TICKS_PER_US)


class QemuPoweredBench(Bench):
    """The monitor's view; powering on also restarts the firmware's clock at that instant."""

    def __init__(self, timeline: DutTimeline, physics: Physics):
        super().__init__(timeline, physics)
        self.timeline = timeline

    def set_power(self, on: bool) -> None:
        instant = self.timeline.power(on)
        self.physics.set_power(on, instant)
        if on:
            self.physics.level(instant, "boot")
        self.power_events.append(on)
        os.write(self._wake_write, b"p")


class EventReader:
    """Splits the firmware's event UART into (letter, ticks)."""

    def __init__(self):
        self._pending = b""

    def feed(self, data: bytes) -> list[tuple[str, int]]:
        *lines, self._pending = (self._pending + data).split(b"\n")
        events = []
        for line in lines:
            text = line.decode("ascii", errors="replace").strip()
            if len(text) > 1 and text[1:].isdigit():
                events.append((text[0], int(text[1:])))
            elif text:
                print(f"qemu bench: unreadable event line {text!r}", file=sys.stderr, flush=True)
        return events


class QemuProcess:
    """QEMU with the image, its two UARTs connected to sockets this process listens on."""

    def __init__(self, config: BenchConfig, folder: Path):
        self._servers = []
        paths = [folder / "uart0.sock", folder / "uart1.sock"]
        for path in paths:
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(str(path))
            server.listen(1)
            server.settimeout(_CONNECT_TIMEOUT_S)
            self._servers.append(server)
        command = qemu_command(config.qemu, Path(config.image), f"unix:{paths[0]}", f"unix:{paths[1]}")
        print(" ".join(command), file=sys.stderr, flush=True)
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr,
                                     **lab_process_options())  # QEMU ends with this bench, however it ends
        try:
            # QEMU connects serial0 then serial1 while it sets up, before the core runs
            self.uart0 = self._servers[0].accept()[0]
            self.uart1 = self._servers[1].accept()[0]
        except OSError:
            self.close()
            raise RuntimeError(f"QEMU did not connect its UARTs (exit code {self.proc.poll()})") from None

    def send(self, data: bytes) -> None:
        try:
            self.uart0.sendall(data)
        except OSError:
            pass  # QEMU is gone; its exit is reported by the loop

    def close(self) -> None:
        end_process(self.proc)
        for sock in (*self._servers, getattr(self, "uart0", None), getattr(self, "uart1", None)):
            if sock:
                sock.close()


def serve_qemu(config: BenchConfig) -> None:
    timeline = DutTimeline()
    physics = Physics(PowerProfile.from_ma(config.power_ma), timeline,
                      Path(config.truth_path) if config.truth_path else None)
    bench = QemuPoweredBench(timeline, physics)
    endpoint = PtyPort()
    qemu: QemuProcess | None = None
    board = emulated_relay(config, endpoint, lambda data: qemu.send(data) if qemu else None)
    monitor = emulated_monitor(config, bench)
    monitor.start()
    announce({"relay": endpoint.url, "monitor": monitor.address}, True)
    events = EventReader()
    stdin = sys.stdin.fileno()
    folder = Path(tempfile.mkdtemp(prefix="tr-qemu-"))
    try:
        while True:
            watch = [stdin, endpoint, bench._wake_read] + ([qemu.uart0, qemu.uart1] if qemu else [])
            readable, _, _ = select.select(watch, [], [])
            if stdin in readable:
                line = sys.stdin.readline()
                if not line or line.strip() == "quit":
                    break
            if bench._wake_read in readable:
                for on in bench.take_power_events():
                    if qemu:
                        qemu.close()
                        qemu = None
                    if on:
                        for stale in folder.glob("*.sock"):
                            stale.unlink()
                        qemu, events = QemuProcess(config, folder), EventReader()
                continue  # the sockets in `readable` may belong to the QEMU just replaced
            if endpoint in readable:
                data = endpoint.read()
                if data:
                    board.from_host(data)
            if qemu and qemu.uart1 in readable:
                data = qemu.uart1.recv(65536)
                for letter, ticks in events.feed(data):
                    _apply(letter, ticks, timeline, physics)
                if not data:
                    _dut_died(qemu)
            if qemu and qemu.uart0 in readable:
                data = qemu.uart0.recv(4096)
                if not data:
                    _dut_died(qemu)
                board.from_dut(data)
    finally:
        monitor.shutdown()
        if qemu:
            qemu.close()
        physics.close()
        endpoint.close()
        for leftover in folder.glob("*"):
            leftover.unlink()
        folder.rmdir()
    print("stats {}", flush=True)


def _apply(letter: str, ticks: int, timeline: DutTimeline, physics: Physics) -> None:
    """One firmware event into the physics, then bench time may advance to it."""
    instant = timeline.at(ticks)
    if letter in _ACTIVITY:
        physics.level(instant, _ACTIVITY[letter])
    elif letter in _PIN:
        physics.pin(_PIN[letter], instant)
    timeline.reached(ticks)


def _dut_died(qemu: QemuProcess) -> None:
    """QEMU ended while powered (a fault requests a reset, which ends it): the bench ends with it,
    so the runner reports the lab failure instead of waiting for replies."""
    code = qemu.proc.wait(timeout=10)
    print(f"qemu bench: QEMU exited with code {code} while the DUT was powered", file=sys.stderr, flush=True)
    qemu.close()
    raise SystemExit(3)
