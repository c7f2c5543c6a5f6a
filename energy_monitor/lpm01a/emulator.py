"""A byte-faithful LPM01A on a pty, sampling a virtual bench.

The shell (energy_monitors.md §1.3-1.4): commands end with CR or LF, replies are
`PowerShield > ack <command>[ payload]` or `PowerShield > error <command>` plus an
`Error detail:` line; most commands need host control (`htc`). The acquisition engine samples
the bench at `freq` as its virtual time settles: energy per sample (or mean current), with
measurement noise, in ASCII or binary, with a TimeStamp record every 1000 samples and an
`event NN ris` after the sample during which each D7 falling edge happened.

The bench is anything with: horizon_us(), energy_at(times_us), falling_edges_until(t_us),
set_power(on), set_voltage(volts), note(record), forget_before(t_us).

Quirk switches reproduce what real units do: stale streaming at open, a duplicate ack, a NUL
after TimeStamp lines, glued samples, dropped samples, an old firmware without `pwr` and
`eventsrc`, and the `currthres`/`currthre` spelling.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import numpy as np

from ..pty_port import PtyInstrument
from .codec import encode_binary, format_ascii_lines
from .driver import RATES_HZ, VOLTAGE_RANGE_MV

PROMPT = b"PowerShield > "
_FREE_COMMANDS = {"help", "echo", "powershield", "version", "status", "psrst", "htc"}
_BLOCK = 2_000  # samples produced per pass, so commands are served in between


@dataclass
class Quirks:
    stale_stream: bool = False  # already streaming when the host opens the port
    duplicate_ack: bool = False  # `pwr on nostatus` is acked twice
    nul_after_timestamp: bool = False  # a NUL byte before the first sample after a TimeStamp line
    glue_every: int = 0  # every Nth ASCII sample loses its line break
    drop_every: int = 0  # every Nth TimeStamp period loses its last 10 samples (Tx buffer overflow)
    firmware: str = "1.0.7"  # "1.0.5" lacks `pwr` and `eventsrc`
    threshold_command: str = "currthres"  # some firmware spells it `currthre`
    noise_rel: float = 0.002  # measurement noise, relative standard deviation per sample
    refuse: str = ""  # commands (comma-separated names) answered with an error, as a faulty unit would

    @classmethod
    def from_dict(cls, data: dict) -> "Quirks":
        return cls(**data)


def _number(text: str) -> float:
    """The shell's numbers: plain, with a u/m/k suffix, or with a -xx/+xx power of ten."""
    scale = {"u": 1e-6, "m": 1e-3, "k": 1e3}
    if text[-1:] in scale:
        return float(text[:-1]) * scale[text[-1]]
    if len(text) > 3 and text[-3] in "+-" and text[-2:].isdigit():
        return float(text[:-3]) * 10.0 ** int(text[-3:])
    return float(text)


class Lpm01aEmulator(PtyInstrument):
    voltage_range_mv = VOLTAGE_RANGE_MV
    def __init__(self, bench, *, quirks: Quirks | None = None, seed: int = 0,
                 board_id: str = "540554545-1430736921-1900587"):
        super().__init__("lpm01a-emulator")
        self.bench = bench
        self.quirks = quirks or Quirks()
        self.board_id = board_id
        self._rng = np.random.default_rng(seed)
        self._line = bytearray()
        self.host_control = False
        self.voltage_mv = 3300
        self.freq_hz = 100.0
        self.output = "current"
        self.format = "ascii_dec"
        self.acqtime_s = 10.0
        self.events_enabled = False
        self._powered = False
        self.acquiring = self.quirks.stale_stream
        self.event_counter = 0  # never reset by stop/start
        self._start_us = 0.0
        self._samples = 0
        if self.acquiring:
            self._begin_acquisition()

    def streaming(self) -> bool:
        return self.acquiring

    # -- the shell -----------------------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        for byte in data:
            if byte in b"\r\n":
                if self._line:
                    self._command(self._line.decode("latin-1").strip())
                    self._line.clear()
            else:
                self._line.append(byte)

    def _say(self, text: str) -> None:
        self.port.write(PROMPT + text.encode("latin-1") + b"\r\n")

    def _ack(self, text: str, payload: str = "") -> None:
        self._say(f"ack {text}{' ' + payload if payload else ''}")

    def _error(self, text: str, detail: str) -> None:
        self._say(f"error {text}")
        self._say(f"Error detail: {detail}")

    def _command(self, text: str) -> None:
        try:
            words = shlex.split(text)
        except ValueError:
            words = text.split()
        if not words:
            return
        name, args = words[0], words[1:]
        old = tuple(int(p) for p in self.quirks.firmware.split(".")) < (1, 0, 6)
        if self.acquiring and name != "stop" and not (name == "pwr" and args[:1] == ["off"]):
            return self._error(text, "acquisition running, send stop first")
        if name not in _FREE_COMMANDS and not self.host_control and name not in ("stop", "hrc"):
            return self._error(text, "host control required, send htc first")
        if name in self.quirks.refuse.split(","):
            return self._error(text, "command failed")
        if name == self.quirks.threshold_command:  # accepted, not modelled
            return self._ack(text)
        handler = getattr(self, f"_cmd_{name}", None)
        if handler is None or (old and name in ("pwr", "eventsrc")):
            return self._error(text, "unknown command")
        try:
            handler(text, args)
        except (ValueError, IndexError) as exc:
            self._error(text, f"bad argument: {exc}")

    def _cmd_htc(self, text, args):
        self.host_control = True
        self._ack(text)

    def _cmd_hrc(self, text, args):
        self.host_control = False
        self._ack(text)

    def _cmd_powershield(self, text, args):
        self._ack(text, self.board_id)

    def _cmd_version(self, text, args):
        self._say(f"ack version: {self.quirks.firmware}")

    def _cmd_status(self, text, args):
        self._ack(text, "ok")

    def _cmd_echo(self, text, args):
        self._ack(text)

    def _cmd_help(self, text, args):
        self._ack(text)

    def _cmd_lcd(self, text, args):
        self._ack(text)

    def _cmd_acqtime(self, text, args):
        value = args[0]
        self.acqtime_s = float("inf") if value in ("0", "inf") else _number(value)
        self._ack(text)

    def _cmd_trigdelay(self, text, args):
        _number(args[0])
        self._ack(text)

    def _cmd_trigsrc(self, text, args):
        if args[0] not in ("sw", "d7"):
            raise ValueError(args[0])
        self._ack(text)

    def _cmd_eventsrc(self, text, args):
        if args[:2] != ["d7", "fal"]:
            raise ValueError(" ".join(args))
        self.events_enabled = True
        self._ack(text)

    def _cmd_output(self, text, args):
        if args[0] not in ("current", "energy"):
            raise ValueError(args[0])
        self.output = args[0]
        self._ack(text)

    def _cmd_format(self, text, args):
        if args[0] not in ("ascii_dec", "bin_hexa"):
            raise ValueError(args[0])
        self.format = args[0]
        self._ack(text)

    def _cmd_freq(self, text, args):
        hz = _number(args[0])
        if hz not in RATES_HZ:
            raise ValueError(f"{args[0]} is not a supported rate")
        self.freq_hz = hz
        self._ack(text)

    def _cmd_volt(self, text, args):
        if args[0] == "get":
            return self._ack(text, f"{self.voltage_mv}m")
        millivolts = round(_number(args[0]) * 1000)
        low, high = self.voltage_range_mv
        if not low <= millivolts <= high:
            raise ValueError(f"{millivolts} mV outside {low}..{high} mV")
        self.voltage_mv = millivolts
        self.bench.set_voltage(millivolts / 1000)
        self._ack(text)

    def _cmd_pwr(self, text, args):
        if args[0] == "get":
            return self._ack(text, "on" if self._powered else "off")
        if args[0] not in ("on", "off", "auto"):
            raise ValueError(args[0])
        self._powered = args[0] != "off"
        self.bench.set_power(self._powered)
        self._ack(text)
        if self.quirks.duplicate_ack and args[0] == "on":
            self._ack(text)

    def _cmd_start(self, text, args):
        if self.output == "energy" and self.freq_hz > 10_000:
            raise ValueError("energy output up to 10 kHz")
        if self.format == "ascii_dec" and self.freq_hz > 5_000 and self.acqtime_s == float("inf"):
            raise ValueError("ascii_dec above 5 kHz needs a finite acqtime")
        self._ack(text)
        self._begin_acquisition()

    def _cmd_stop(self, text, args):
        if self.acquiring:
            self._end_acquisition()
        self._ack(text)
        self._say("Acquisition completed")

    # -- the acquisition -----------------------------------------------------------------------
    def _begin_acquisition(self) -> None:
        self._start_us = self.bench.horizon_us()
        self.bench.falling_edges_until(self._start_us)  # edges before the start are not captured
        self.bench.note({"acquisition_start_us": self._start_us, "rate_hz": self.freq_hz})
        self._samples = 0
        self.acquiring = True

    def _end_acquisition(self) -> None:
        self.produce(final=True)
        self.acquiring = False
        self.port.write(b"\xf0\xf4\xff\xff" if self.format == "bin_hexa" else b"end\r\n")

    def produce(self, final: bool = False) -> None:
        period_us = 1e6 / self.freq_hz
        available = int((self.bench.horizon_us() - self._start_us) / period_us)
        if self.acqtime_s != float("inf"):
            available = min(available, int(self.acqtime_s * self.freq_hz))
        while self._samples < available:
            count = min(_BLOCK, available - self._samples)
            self._emit(count, period_us)
            if not final:
                break
        if self.acqtime_s != float("inf") and self._samples >= int(self.acqtime_s * self.freq_hz):
            self._end_acquisition()
        self.bench.forget_before(self._start_us + self._samples * period_us)

    def _emit(self, count: int, period_us: float) -> None:
        first = self._samples
        bounds = self._start_us + (first + np.arange(count + 1)) * period_us
        energy = np.diff(self.bench.energy_at(bounds))
        if self.output == "current":
            values = energy / (self.voltage_mv / 1000) / (period_us * 1e-6)
        else:
            values = energy
        values = values * (1 + self.quirks.noise_rel * self._rng.standard_normal(count))
        binary = self.format == "bin_hexa"
        rows = (np.frombuffer(encode_binary(values), np.uint8).reshape(-1, 2) if binary
                else format_ascii_lines(values))
        edges = self.bench.falling_edges_until(bounds[-1]) if self.events_enabled else []
        # what goes after which sample: events, then a TimeStamp record every 1000 samples
        after: dict[int, list[bytes]] = {}
        for t in edges:
            after.setdefault(int((t - self._start_us) // period_us), []).append(self._event())
        for index in range(first + (999 - first % 1000) % 1000, first + count, 1000):  # the 1000th, 2000th... sample
            after.setdefault(index, []).append(self._timestamp(index + 1))
        out = bytearray()
        position = first
        for index in sorted({i for i in after if first <= i < first + count} | {first + count - 1}):
            out += self._block(rows[position - first : index + 1 - first], position, binary)
            out += b"".join(after.get(index, []))
            position = index + 1
        self._samples += count
        self.port.write(bytes(out))

    def _block(self, rows: np.ndarray, first: int, binary: bool) -> bytes:
        """Encoded samples minus what the quirks lose: the last samples of an overflowing
        TimeStamp period, or (ASCII) a line break, gluing two samples on one line."""
        if not (self.quirks.drop_every or (self.quirks.glue_every and not binary)):
            return rows.tobytes()
        index = first + np.arange(len(rows))
        keep = ~(((index // 1000 + 1) % self.quirks.drop_every == 0) & (index % 1000 >= 990)) if (
            self.quirks.drop_every) else np.ones(len(rows), dtype=bool)
        if binary:
            return rows[keep].tobytes()
        lines = [row.tobytes() for row in rows[keep]]
        if self.quirks.glue_every:  # never the last of a block: an event or TimeStamp may follow
            kept = index[keep]
            for i in range(len(lines) - 1):
                if kept[i] % self.quirks.glue_every == self.quirks.glue_every - 1:
                    lines[i] = lines[i][:7]
        return b"".join(lines)

    def _event(self) -> bytes:
        number = self.event_counter
        self.event_counter += 1
        text = f"event {number:02d} ris".encode()
        if self.format == "bin_hexa":  # undocumented on hardware: sent as an info record
            return b"\xf0\xf2" + text + b"\r\n\xff\xff"
        return text + b"\r\n"

    def _timestamp(self, samples: int) -> bytes:
        elapsed_ms = round(samples * 1000 / self.freq_hz)
        if self.format == "bin_hexa":
            return b"\xf0\xf3" + elapsed_ms.to_bytes(4, "big") + b"\x00\xff\xff"
        line = f"TimeStamp: {elapsed_ms // 1000:03d}s {elapsed_ms % 1000:03d}ms, buff 00%\r\n".encode()
        return line + (b"\x00" if self.quirks.nul_after_timestamp else b"")
