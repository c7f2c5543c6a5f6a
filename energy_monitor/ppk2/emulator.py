"""A byte-faithful PPK2 on a pty, sampling a virtual bench.

Reads opcodes with their argument lengths; answers 0x19 with the metadata text (in two writes,
as units do); sets the bench's supply (0x0D) and, in source-meter mode, switches the DUT (0x0C);
between 0x06 and 0x07 streams u32 words at 100 kS/s: the mean current of each 10 µs sample in
the most sensitive range that fits, the rolling counter, and the timestamp pin on logic bit D0
(the other bits idle high). The stream goes out in uneven writes that split words.

Fault switches: lose a byte now and then (the stream slips), skip samples (counter gaps), start
with stray bytes (misaligned from the first word).
The bench is anything with horizon_us(), energy_at(times_us), pin_events_until(t_us),
set_power(on), set_voltage(volts), note(record), forget_before(t_us).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..pty_port import PtyInstrument
from . import codec

_BLOCK = 20_000  # samples per pass


@dataclass
class Faults:
    lose_byte_every: int = 0  # samples between two lost bytes
    gap_every: int = 0  # samples between two runs of 3 skipped samples
    misaligned_start: bool = False  # two stray bytes before the first word
    noise_rel: float = 0.002

    @classmethod
    def from_dict(cls, data: dict) -> "Faults":
        return cls(**data)


class Ppk2Emulator(PtyInstrument):
    def __init__(self, bench, *, faults: Faults | None = None, seed: int = 0, logic_bit: int = 0):
        super().__init__("ppk2-emulator")
        self.bench = bench
        self.faults = faults or Faults()
        self.logic_bit = logic_bit
        self.modifiers = codec.Modifiers()
        self._rng = np.random.default_rng(seed)
        self._pending = b""
        self.mode = 1
        self.vdd_mv = 3300
        self._streaming = False
        self._start_us = 0.0
        self._samples = 0
        self._level = 1

    def streaming(self) -> bool:
        return self._streaming

    # -- commands ------------------------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        data = self._pending + data
        position = 0
        while position < len(data):
            opcode = data[position]
            needed = codec.ARGUMENT_BYTES.get(opcode, 0)
            if position + 1 + needed > len(data):
                break
            self._command(opcode, data[position + 1: position + 1 + needed])
            position += 1 + needed
        self._pending = data[position:]

    def _command(self, opcode: int, args: bytes) -> None:
        if opcode == codec.GET_METADATA:
            text = codec.format_metadata(self.modifiers, self.vdd_mv, self.mode).encode()
            self.port.write(text[: len(text) // 2])
            self.port.write(text[len(text) // 2:])
        elif opcode == codec.SET_POWER_MODE:
            self.mode = args[0]
        elif opcode == codec.REGULATOR_SET:
            self.vdd_mv = int.from_bytes(args, "big")
            self.bench.set_voltage(self.vdd_mv / 1000)
        elif opcode == codec.DEVICE_RUNNING_SET and self.mode == 2:
            self.bench.set_power(args[0] == 1)
        elif opcode == codec.AVERAGE_START:
            self._start_us = self.bench.horizon_us()
            for _, level in self.bench.pin_events_until(self._start_us):  # before the start: only the level
                self._level = level
            self.bench.note({"acquisition_start_us": self._start_us, "rate_hz": codec.SAMPLE_RATE_HZ})
            self._samples = 0
            self._streaming = True
            if self.faults.misaligned_start:
                self.port.write(b"\x5a\xa5")
        elif opcode == codec.AVERAGE_STOP:
            if self._streaming:
                self.produce()
            self._streaming = False

    # -- the stream ----------------------------------------------------------------------------
    def produce(self) -> None:
        period_us = 1e6 / codec.SAMPLE_RATE_HZ
        available = int((self.bench.horizon_us() - self._start_us) / period_us)
        if available <= self._samples:
            return
        count = min(_BLOCK, available - self._samples)
        first = self._samples
        bounds = self._start_us + (first + np.arange(count + 1)) * period_us
        energy = np.diff(self.bench.energy_at(bounds))
        amps = energy / (self.vdd_mv / 1000) / (period_us * 1e-6)
        amps *= 1 + self.faults.noise_rel * self._rng.standard_normal(count)
        logic = np.full(count, 0xFF, dtype=np.uint8)
        levels = self._levels(bounds[:-1] + period_us / 2)
        logic &= ~np.uint8(1 << self.logic_bit) | (levels.astype(np.uint8) << self.logic_bit)
        counters = (first + np.arange(count)) % 64
        words = codec.encode_words(amps, counters, logic, self.modifiers, self.vdd_mv / 1000)
        keep = np.ones(count, dtype=bool)
        if self.faults.gap_every:
            index = first + np.arange(count)
            keep &= ((index % self.faults.gap_every) >= 3) | (index < self.faults.gap_every)  # not at the start
        data = bytearray(words[keep].tobytes())
        if self.faults.lose_byte_every:
            for cut in sorted(range(self.faults.lose_byte_every - first % self.faults.lose_byte_every,
                                    int(keep.sum()), self.faults.lose_byte_every), reverse=True):
                del data[cut * 4 + 1]
        self._samples += count
        for piece in range(0, len(data), 4093):  # uneven writes split words, as USB packets do
            self.port.write(bytes(data[piece:piece + 4093]))
        self.bench.forget_before(self._start_us + self._samples * period_us)

    def _levels(self, times: np.ndarray) -> np.ndarray:
        """The timestamp pin's level at each sampling instant."""
        levels = np.full(len(times), self._level, dtype=np.int8)
        for t, level in self.bench.pin_events_until(times[-1]):
            levels[np.searchsorted(times, t):] = level
            self._level = level
        return levels
