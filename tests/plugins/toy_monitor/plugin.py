"""The toy monitor: a line protocol over a serial port. The host sends `id`, `volt MV`,
`power 0|1`, `start` and `stop`; while started, the instrument sends one line per block of
samples, `S <first index> <energy J per sample, comma-separated> <edge indices, comma-separated or ->`,
at a fixed 10 kS/s, with the falling edges of its trigger input as sample indices."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

import numpy as np
import serial

from energy_monitor import Capabilities, Chunk, Monitor, MonitorNotResponding
from energy_monitor.plugin import MonitorPlugin, switches_of
from energy_monitor.pty_port import PtyInstrument

RATE_HZ = 10_000.0
BLOCK = 500


class ToyMonitor(Monitor):
    capabilities = Capabilities(model="toy", can_set_voltage=True, voltage_range_mv=(1800, 3300),
                                can_switch_power=True, sample_rates_hz=(RATE_HZ,), output="energy",
                                timestamp_input="TRIG")

    def __init__(self, port: str, log=None):
        self.url = port
        self.log = log or (lambda direction, text: None)
        self._chunks: queue.Queue = queue.Queue()
        self._replies: queue.Queue = queue.Queue()
        self._port = None
        self.identity: dict = {}

    def open(self) -> dict:
        self._port = serial.serial_for_url(self.url, timeout=0.05, exclusive=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._halt = threading.Event()
        self._reader.start()
        self.identity = {"model": "toy", "firmware": self._ask("id").split()[1]}
        return self.identity

    def _ask(self, command: str) -> str:
        self.log(">", command)
        self._port.write(command.encode() + b"\n")
        try:
            reply = self._replies.get(timeout=2.0)
        except queue.Empty:
            raise MonitorNotResponding(f"toy monitor at {self.url} did not answer {command!r}") from None
        self.log("<", reply)
        return reply

    def _read(self) -> None:
        pending = b""
        while not self._halt.is_set():
            pending += self._port.read(self._port.in_waiting or 1)
            *lines, pending = pending.split(b"\n")
            for line in lines:
                text = line.decode()
                if text.startswith("S "):
                    _, first, values, edges = text.split(" ")
                    self._chunks.put(Chunk(int(first), RATE_HZ, energy_j=np.array(values.split(","), dtype=float),
                                           edges=[] if edges == "-" else [int(e) for e in edges.split(",")]))
                else:
                    self._replies.put(text)

    def close(self) -> None:
        if self._port is not None:
            self._halt.set()
            self._reader.join(timeout=2)
            self._port.close()
            self._port = None

    def set_voltage(self, millivolts: int) -> None:
        self._ask(f"volt {millivolts}")

    def power(self, on: bool) -> None:
        self._ask(f"power {int(on)}")

    def start(self, rate_hz: float) -> None:
        self._ask("start")

    def stop(self) -> None:
        self._ask("stop")


@dataclass
class Options:
    offset_j: float = 0.0  # added to every sample: a unit that reads high


class ToyEmulator(PtyInstrument):
    def __init__(self, bench, options: Options, seed: int = 0):
        super().__init__("toy-emulator")
        self.bench, self.options = bench, options
        self._streaming, self._start_us, self._samples, self._pending = False, 0.0, 0, b""

    def streaming(self) -> bool:
        return self._streaming

    def receive(self, data: bytes) -> None:
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            command, _, value = line.decode().partition(" ")
            if command == "volt":
                self.bench.set_voltage(int(value) / 1000)
            elif command == "power":
                self.bench.set_power(value == "1")
            elif command == "start":
                self._streaming, self._start_us, self._samples = True, self.bench.horizon_us(), 0
                self.bench.falling_edges_until(self._start_us)  # edges before the start are not captured
                self.bench.note({"acquisition_start_us": self._start_us, "rate_hz": RATE_HZ})
            elif command == "stop":
                self._streaming = False
            self.port.write(b"toy 1.0\n" if command == "id" else b"ok\n")

    def produce(self) -> None:
        period_us = 1e6 / RATE_HZ
        while (self.bench.horizon_us() - self._start_us) / period_us >= self._samples + BLOCK:
            first = self._samples
            bounds = self._start_us + (first + np.arange(BLOCK + 1)) * period_us
            energy = np.diff(self.bench.energy_at(bounds)) + self.options.offset_j
            edges = [int((t - self._start_us) // period_us) for t in self.bench.falling_edges_until(bounds[-1])]
            text = ",".join(f"{e:.9e}" for e in energy)
            self.port.write(f"S {first} {text} {','.join(map(str, edges)) or '-'}\n".encode())
            self._samples += BLOCK
            self.bench.forget_before(bounds[-1])
        time.sleep(0.001)


PLUGIN = MonitorPlugin(
    name="toy",
    description="Toy Instruments' made-up energy meter (a plug-in from outside tiny-runner)",
    port_required=True,
    rates_hz=(RATE_HZ,),
    default_rate_hz=RATE_HZ,
    voltage_range_mv=(1800, 3300),
    usb_ids=((0x1209, 0x0001),),
    driver=lambda port, log: ToyMonitor(port, log),
    emulator=lambda bench, switches, seed: ToyEmulator(bench, Options(**switches), seed),
    emulated_driver=lambda address, log: ToyMonitor(address, log),
    switches=switches_of(Options),
    lab_samples_per_s=200_000,
)
