"""LPM01A driver: the shell dialogue with acks checked, and the acquisition stream.

One reader thread owns the port's input. In shell mode every line is a reply; after
`PowerShield > ack start` the bytes are samples (ASCII or binary) until the acquisition ends,
and the non-sample lines in between (acks of `stop`, `Acquisition completed`) still reach the
command side. Commands match their own ack by text, so stale output from an earlier session
and duplicate acks are skipped, never taken as the answer.
"""

from __future__ import annotations

import queue
import re
import threading
import time

import serial

from ..base import Capabilities, Chunk, Monitor
from ..errors import MonitorDataError, MonitorFirmwareTooOld, MonitorNotResponding, MonitorRefused
from .codec import frequency_argument, millivolts_argument
from .stream import AsciiStreamParser, BinaryStreamParser

BAUD = 3_686_400
MIN_FIRMWARE = (1, 0, 6)  # `pwr` and `eventsrc` (EEMBC and MLPerf need them)
RATES_HZ = (100_000, 50_000, 20_000, 10_000, 5_000, 2_000, 1_000, 500, 200, 100, 50, 20, 10, 5, 2, 1)
VOLTAGE_RANGE_MV = (1800, 3300)
ASCII_MAX_HZ = 5_000  # ascii_dec streams without a time limit only up to 5 kHz
ENERGY_MAX_HZ = 10_000  # `output energy` integrates per sample up to 10 kHz; faster rates stream current
PROMPT = "PowerShield > "

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


class Lpm01a(Monitor):
    capabilities = Capabilities(
        model="LPM01A",
        can_set_voltage=True,
        voltage_range_mv=VOLTAGE_RANGE_MV,
        can_switch_power=True,
        sample_rates_hz=RATES_HZ,
        output="energy",
        timestamp_input="D7 (falling edge)",
    )

    def __init__(self, url: str, *, ack_timeout_s: float = 2.0, volt_timeout_s: float = 10.0, log=None):
        self.url = url
        self.ack_timeout_s = ack_timeout_s
        self.volt_timeout_s = volt_timeout_s
        self.log = log or (lambda direction, text: None)  # a wire log for the shell dialogue
        self._port = None
        self._replies: queue.Queue[str] = queue.Queue()
        self._chunks: queue.Queue[Chunk | Exception] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._closing = threading.Event()
        self._streaming = False  # between `start` and the end of the acquisition
        self._stream_open = False  # the ack of `start` was seen: bytes are samples now
        self._parser = None
        self._format = "ascii_dec"
        self._output = "energy"
        self.voltage_mv: int | None = None
        self.rate_hz: float | None = None
        self.identity: dict = {}

    # -- connection ----------------------------------------------------------------------------
    def open(self) -> dict:
        try:
            self._port = serial.serial_for_url(self.url, baudrate=BAUD, timeout=0.05, exclusive=True)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise MonitorNotResponding(f"cannot open LPM01A port {self.url}: {str(exc).splitlines()[0]}") from None
        # A previous session may have left it streaming: stop, let the tail drain, forget it.
        self._write("stop")
        self._drain(0.3)
        self._reader = threading.Thread(target=self._read_loop, name="lpm01a-reader", daemon=True)
        self._reader.start()
        self.command("htc")
        board_id = self.command("powershield")
        version_text = self.command("version")
        match = _VERSION.search(version_text)
        if not match:
            raise MonitorRefused(f"LPM01A at {self.url}: cannot read a firmware version from {version_text!r}")
        version = tuple(int(g) for g in match.groups())
        if version < MIN_FIRMWARE:
            raise MonitorFirmwareTooOld(
                f"LPM01A at {self.url} runs firmware {'.'.join(map(str, version))}; "
                f"energy runs need {'.'.join(map(str, MIN_FIRMWARE))} or newer (update it with STM32CubeProgrammer)"
            )
        self.command("status")
        self.identity = {"model": "LPM01A", "firmware": ".".join(map(str, version)), "board_id": board_id.strip(),
                         "port": self.url}
        return self.identity

    def close(self) -> None:
        if self._port is None:
            return
        try:
            if self._streaming:
                self.stop()
            if self._reader is not None:  # an open() cut short (Ctrl-C) may not have started it: no ack could come
                self.command("hrc")
        except Exception:  # closing must not hide the error that made us close
            pass
        self._closing.set()
        if self._reader:
            self._reader.join(timeout=2)
        self._port.close()
        self._port = None

    # -- the shell -----------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        self.log(">", text)
        try:
            self._port.write(text.encode("ascii") + b"\r\n")
        except (serial.SerialException, OSError) as exc:
            raise MonitorNotResponding(f"write to {self.capabilities.model} {self.url} failed: {exc}") from None

    def _drain(self, quiet_s: float) -> None:
        last = time.monotonic()
        while time.monotonic() - last < quiet_s:
            if self._port.read(4096):
                last = time.monotonic()

    def command(self, text: str, timeout_s: float | None = None) -> str:
        """Send one shell command; return what follows its ack, or raise with the error detail."""
        timeout_s = self.ack_timeout_s if timeout_s is None else timeout_s
        self._write(text)
        deadline = time.monotonic() + timeout_s
        ack, error = f"{PROMPT}ack {text}", f"{PROMPT}error {text}"
        seen = []
        while True:
            try:
                line = self._replies.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                got = f"received {seen[-3:]!r}" if seen else "received nothing"
                raise MonitorNotResponding(
                    f"LPM01A at {self.url} did not acknowledge {text!r} within {timeout_s:g} s ({got}); "
                    "check the port, and that no other program holds it"
                ) from None
            seen.append(line)
            if line.startswith(ack):
                return line[len(ack):].lstrip(" :")
            if line.startswith(error):
                detail = self._error_detail(deadline)
                raise MonitorRefused(f"LPM01A at {self.url} refused {text!r}: {detail or line}")
            # anything else is stale output or a duplicate ack of an earlier command: skip it

    def _error_detail(self, deadline: float) -> str:
        while True:
            try:
                line = self._replies.get(timeout=max(deadline - time.monotonic(), 0.2))
            except queue.Empty:
                return ""
            text = line[len(PROMPT):] if line.startswith(PROMPT) else line
            if text.startswith("Error detail:"):
                return text[len("Error detail:"):].strip()

    # -- supply --------------------------------------------------------------------------------
    def set_voltage(self, millivolts: int) -> None:
        low, high = VOLTAGE_RANGE_MV
        if not low <= millivolts <= high:
            raise MonitorRefused(f"LPM01A supplies {low}..{high} mV, not {millivolts} mV")
        self.command(f"volt {millivolts_argument(millivolts)}", timeout_s=self.volt_timeout_s)  # recalibrates
        self.voltage_mv = millivolts

    def power(self, on: bool) -> None:
        self.command("pwr on nostatus" if on else "pwr off")

    # -- acquisition ---------------------------------------------------------------------------
    def configure(self, rate_hz: float) -> None:
        if rate_hz not in RATES_HZ:
            raise MonitorRefused(f"LPM01A samples at {', '.join(map(str, RATES_HZ))} Hz, not {rate_hz:g}")
        self._format = "ascii_dec" if rate_hz <= ASCII_MAX_HZ else "bin_hexa"
        self._output = "energy" if rate_hz <= ENERGY_MAX_HZ else "current"
        for text in ("acqtime 0", "trigdelay 0", "trigsrc sw", "eventsrc d7 fal", f"output {self._output}",
                     f"format {self._format}", f"freq {frequency_argument(rate_hz)}"):
            self.command(text)
        self.rate_hz = rate_hz

    def start(self, rate_hz: float) -> None:
        if self.voltage_mv is None:
            raise MonitorRefused("set the supply voltage before starting an acquisition")
        self.configure(rate_hz)
        parser_class = AsciiStreamParser if self._format == "ascii_dec" else BinaryStreamParser
        self._parser = parser_class(rate_hz)
        self._streaming = True
        self.command("start")

    def stop(self) -> None:
        if not self._streaming:
            return
        try:
            self._write("stop")  # acked inconsistently across firmware; the stream's end is the answer
        except MonitorNotResponding:  # the port is gone: the reader has said so, and that error stands
            self._streaming = self._stream_open = False
            return
        deadline = time.monotonic() + max(self.ack_timeout_s, 5.0)
        while self._streaming and time.monotonic() < deadline:
            time.sleep(0.01)
        self._streaming = False

    # -- the reader thread ---------------------------------------------------------------------
    def _read_loop(self) -> None:
        pending = b""
        while not self._closing.is_set():
            try:
                data = self._port.read(max(self._port.in_waiting, 1))
            except (serial.SerialException, OSError) as exc:
                self._chunks.put(MonitorDataError(f"{self.capabilities.model} at {self.url} went away: {exc}"))
                return
            if not data:
                continue
            pending += data
            pending = self._consume(pending)

    def _consume(self, data: bytes) -> bytes:
        """Route bytes: shell lines to the reply queue, stream bytes to the parser.
        Returns an incomplete shell line to be continued by the next read."""
        while data:
            if self._stream_open:
                data = self._feed_stream(data)
                continue
            newline = data.find(b"\n")
            if newline < 0:
                return data
            self._shell_line(data[:newline].rstrip(b"\r"))
            data = data[newline + 1:]
        return b""

    def _feed_stream(self, data: bytes) -> bytes:
        """Stream bytes to the parser and its samples out as chunks; returns the bytes after the
        acquisition's end (shell output again)."""
        try:
            outputs = self._parser.feed(data)
        except ValueError as exc:
            self._chunks.put(MonitorDataError(f"{self.capabilities.model} at {self.url}: unreadable stream: {exc}"))
            outputs = []
        for parsed in outputs:
            self._deliver(parsed)
        if self._parser.ended:
            self._stream_open = self._streaming = False
        return self._parser.take_leftover()

    def _shell_line(self, raw: bytes) -> None:
        line = raw.replace(b"\x00", b"").decode("latin-1")
        if line:
            self.log("<", line)
            self._replies.put(line)
        if self._streaming and line.startswith(f"{PROMPT}ack start"):
            self._stream_open = True

    def _deliver(self, parsed) -> None:
        for message in parsed.messages:
            text = message.decode("latin-1")
            self.log("<", text)
            self._replies.put(text)
        if not (len(parsed.values) or parsed.edges or parsed.dropped):
            return
        chunk = Chunk(first_index=parsed.first_index, rate_hz=self._parser.rate_hz, edges=parsed.edges,
                      dropped=parsed.dropped, notes=[m.decode("latin-1") for m in parsed.messages])
        if self._output == "energy":
            chunk.energy_j = parsed.values
        else:  # like the instrument's own energy output, energy assumes the set voltage
            chunk.current_a = parsed.values
            chunk.energy_j = parsed.values * (self.voltage_mv / 1000.0) / self._parser.rate_hz
        self._chunks.put(chunk)
