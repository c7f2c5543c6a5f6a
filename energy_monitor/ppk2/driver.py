"""PPK2 driver: metadata and calibration, source or ampere meter, and a sample stream checked
word by word against the 6-bit counter.

The stream keeps 4-byte alignment. Where the counter skips ahead (and the following words run
on in step) samples were lost: they are reported as dropped and later indices skip over them,
so an index always means a time (index / 100 kHz after start). Where the counter stops making
sense the stream has slipped by a byte or more: the parser finds the alignment at which the
counter runs in step again and counts what it skipped.
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np
import serial

from ..base import Capabilities, Chunk, Monitor
from ..errors import MonitorDataError, MonitorNotResponding, MonitorRefused
from . import codec

_IN_STEP = 8  # consecutive words with a +1 counter that confirm an alignment


class SampleStream:
    """Bytes in, (first index, current, logic level of one bit, dropped) runs out."""

    def __init__(self, modifiers: codec.Modifiers, vdd_v: float, logic_bit: int):
        self.modifiers = modifiers
        self.vdd_v = vdd_v
        self.logic_bit = logic_bit
        self.index = 0  # absolute index of the next sample
        self.dropped_total = 0
        self.skipped_bytes = 0
        self._counter: int | None = None  # counter of the last accepted word
        self._pending = b""

    def feed(self, data: bytes) -> list[tuple[int, np.ndarray, np.ndarray, int]]:
        data = self._pending + data
        runs = []
        dropped = 0
        position = 0
        while len(data) - position >= 4:
            usable = (len(data) - position) // 4 * 4
            words = np.frombuffer(data[position:position + usable], dtype="<u4")
            code, rng, counter, logic = codec.split_words(words)
            if self._counter is None:  # the first words of a stream must prove their alignment
                if len(words) <= _IN_STEP:
                    break
                if not np.all(np.diff(counter[:_IN_STEP + 1].astype(np.int64)) % 64 == 1):
                    shift = self._realign(data, position)
                    if shift is None:
                        break
                    self.skipped_bytes += shift
                    position += shift
                    continue
                self._counter = (int(counter[0]) - 1) % 64
            previous = np.concatenate([[self._counter], counter[:-1]])
            steps = (counter.astype(np.int64) - previous) % 64
            bad = np.flatnonzero(steps != 1)
            good = int(bad[0]) if len(bad) else len(words)
            if good:
                runs.append(self._run(code[:good], rng[:good], logic[:good], counter[good - 1], dropped))
                dropped = 0
                position += 4 * good
                continue
            if len(words) <= _IN_STEP:
                break  # too few words to tell a gap from a slip: wait for more
            gap = int(steps[0]) - 1
            if gap > 0 and np.all(steps[1:_IN_STEP + 1] == 1):  # samples lost, the stream runs on in step
                self.index += gap
                self.dropped_total += gap
                dropped += gap
                self._counter = (int(counter[0]) - 1) % 64
                continue
            shift = self._realign(data, position)  # the stream slipped: find the words again
            if shift is None:
                break
            self.skipped_bytes += shift
            position += shift
        self._pending = data[position:]
        return runs

    def _realign(self, data: bytes, position: int) -> int | None:
        """The smallest byte shift (1.. one word and a bit) after which the counter runs in step."""
        for shift in range(1, 8):
            chunk = data[position + shift:]
            if len(chunk) < 4 * (_IN_STEP + 1):
                return None
            counter = (np.frombuffer(chunk[:4 * (_IN_STEP + 1)], dtype="<u4") >> 18) & 0x3F
            if np.all(np.diff(counter.astype(np.int64)) % 64 == 1):
                return shift
        return 4  # nothing lines up near here: drop a word and look again

    def _run(self, code, rng, logic, last_counter, dropped):
        first = self.index
        amps = codec.current_a(code, rng, self.modifiers, self.vdd_v)
        levels = (logic >> self.logic_bit) & 1
        self.index += len(amps)
        self._counter = int(last_counter)
        return first, amps, levels, dropped


class Ppk2(Monitor):
    def __init__(self, url: str, *, mode: str = "source", logic_bit: int = 0, supply_mv: int | None = None,
                 log=None):
        if mode not in ("source", "ampere"):
            raise ValueError("PPK2 mode is 'source' or 'ampere'")
        if not 0 <= logic_bit <= 7:
            raise ValueError("the PPK2 logic port has bits D0..D7")
        self.url = url
        self.mode = mode
        self.logic_bit = logic_bit
        self.voltage_mv = supply_mv  # source mode: set by set_voltage; ampere mode: the external supply
        self.log = log or (lambda direction, text: None)
        self.capabilities = Capabilities(
            model="PPK2",
            can_set_voltage=mode == "source",
            voltage_range_mv=codec.VOLTAGE_RANGE_MV if mode == "source" else None,
            can_switch_power=mode == "source",
            sample_rates_hz=(codec.SAMPLE_RATE_HZ,),
            output="current_voltage",
            timestamp_input=f"logic D{logic_bit} (falling edge)",
        )
        self._port = None
        self.modifiers = codec.Modifiers()
        self.identity: dict = {}
        self._chunks: queue.Queue = queue.Queue()
        self._reader: threading.Thread | None = None
        self._halt = threading.Event()
        self._last_level = 1
        self.rate_hz = float(codec.SAMPLE_RATE_HZ)
        self.skipped_bytes = 0  # bytes dropped to find the words again after slips (set when streaming ends)

    def _send(self, *values: int) -> None:
        data = bytes(values)
        self.log(">", data.hex(" "))
        try:
            self._port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise MonitorNotResponding(f"write to PPK2 {self.url} failed: {exc}") from None

    def open(self) -> dict:
        try:
            self._port = serial.serial_for_url(self.url, baudrate=115200, timeout=0.05, exclusive=True)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise MonitorNotResponding(f"cannot open PPK2 port {self.url}: {str(exc).splitlines()[0]}") from None
        self._send(codec.AVERAGE_STOP)  # a previous session may have left it streaming
        self._drain(0.2)
        self._send(codec.GET_METADATA)
        text = self._read_until(b"END", 2.0)
        values, self.modifiers = codec.parse_metadata(text)
        self.log("<", text.strip().replace("\n", " | "))
        self._send(codec.SET_POWER_MODE, 2 if self.mode == "source" else 1)
        self.identity = {"model": "PPK2", "mode": self.mode, "hw": values.get("hw"),
                         "calibrated": values.get("calibrated"), "port": self.url,
                         "timestamp_input": self.capabilities.timestamp_input}
        return self.identity

    def _drain(self, quiet_s: float) -> None:
        last = time.monotonic()
        while time.monotonic() - last < quiet_s:
            if self._port.read(65536):
                last = time.monotonic()

    def _read_until(self, marker: bytes, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        data = b""
        while marker not in data:
            if time.monotonic() > deadline:
                heard = f"received {data[-40:]!r}" if data else "received nothing"
                raise MonitorNotResponding(
                    f"PPK2 at {self.url} sent no metadata within {timeout_s:g} s ({heard}); check the port"
                )
            data += self._port.read(4096)
        return data[: data.index(marker) + len(marker)].decode("latin-1")

    def set_voltage(self, millivolts: int) -> None:
        if self.mode != "source":
            raise MonitorRefused("a PPK2 in ampere-meter mode measures an external supply; it cannot set one")
        low, high = codec.VOLTAGE_RANGE_MV
        if not low <= millivolts <= high:
            raise MonitorRefused(f"PPK2 supplies {low}..{high} mV, not {millivolts} mV")
        self._send(codec.REGULATOR_SET, millivolts >> 8, millivolts & 0xFF)
        self.voltage_mv = millivolts

    def power(self, on: bool) -> None:
        if self.mode != "source":
            raise MonitorRefused("a PPK2 in ampere-meter mode cannot switch the DUT's external supply")
        self._send(codec.DEVICE_RUNNING_SET, 1 if on else 0)

    def start(self, rate_hz: float) -> None:
        if rate_hz != codec.SAMPLE_RATE_HZ:
            raise MonitorRefused(f"the PPK2 streams at {codec.SAMPLE_RATE_HZ} samples/s only, not {rate_hz:g}")
        if self.voltage_mv is None:
            raise MonitorRefused("the PPK2 needs the supply voltage (set it, or give the external supply's)")
        stream = SampleStream(self.modifiers, self.voltage_mv / 1000, self.logic_bit)
        self._halt.clear()
        self._reader = threading.Thread(target=self._read_loop, args=(stream,), name="ppk2-reader", daemon=True)
        self._send(codec.AVERAGE_START)
        self._reader.start()

    def _read_loop(self, stream: SampleStream) -> None:
        while not self._halt.is_set():
            try:
                data = self._port.read(max(self._port.in_waiting, 4))
            except (serial.SerialException, OSError) as exc:
                self._chunks.put(MonitorDataError(f"PPK2 at {self.url} went away: {exc}"))
                return
            if data:
                for first, amps, levels, dropped in stream.feed(data):
                    self._chunks.put(self._chunk(first, amps, levels, dropped))
        self.skipped_bytes = stream.skipped_bytes

    def _chunk(self, first: int, amps: np.ndarray, levels: np.ndarray, dropped: int) -> Chunk:
        previous = np.concatenate([[self._last_level], levels[:-1]])
        falling = np.flatnonzero((previous == 1) & (levels == 0)) + first
        self._last_level = int(levels[-1]) if len(levels) else self._last_level
        return Chunk(first_index=first, rate_hz=self.rate_hz, current_a=amps,
                     voltage_v=np.float64(self.voltage_mv / 1000), edges=[int(e) for e in falling], dropped=dropped)


    def stop(self) -> None:
        if self._reader is None:
            return
        self._send(codec.AVERAGE_STOP)
        time.sleep(0.1)  # a few words are still in flight after the stop
        self._halt.set()
        self._reader.join(timeout=2)
        self._reader = None

    def close(self) -> None:
        if self._port is None:
            return
        try:
            self.stop()
        except Exception:  # closing must not hide the error that made us close
            pass
        self._port.close()
        self._port = None
