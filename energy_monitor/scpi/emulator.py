"""A Keysight N6705 with an N6781A SMU (and an N6731B DC module) as a raw-socket SCPI instrument
on 127.0.0.1, which pyvisa-py opens as `TCPIP::127.0.0.1::PORT::SOCKET`.

It answers the commands driver.py sends (see there for where each was checked) with SCPI's
rules: newline-terminated messages, `;`-separated commands (a leading `:` is taken as the root;
relative headers after the first are not followed), short or long keywords, channel lists
`(@1,2)`, an error queue read with `SYST:ERR?` (`+0,"No error"`; -113 undefined header, -109
missing parameter, -222 data out of range, -221 settings conflict), `*IDN?`, `*OPC?`, `*RST`,
`*CLS`. The external data log samples the virtual bench: a record per period holds the
channel's average current and voltage, served by `FETC:ELOG?` up to the bench's horizon as ASCII
or as an IEEE-488.2 block of big-endian float32 (`FORM REAL`, `FORM:BORD NORM`).

Fault switches: the two-module interleaving of EnergyRunner issue #24 (the other module's
voltage slips into the log whatever its functions are set to), the modules fitted, the `*IDN?`
answer, a command header refused with -222, the connection dropped after N fetches, noise.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

import numpy as np

from ..line_server import LineServer
from .driver import PERIOD_STEP_S

IDN = "Keysight Technologies,N6705C,MY56000142,D.04.01"
MIN_STEPS = 5  # the shortest data-log period, 102.4 µs
_LONG = {"SENSE": "SENS", "FUNCTION": "FUNC", "CURRENT": "CURR", "VOLTAGE": "VOLT", "PERIOD": "PER",
         "TRIGGER": "TRIG", "SOURCE": "SOUR", "INITIATE": "INIT", "FETCH": "FETC", "ABORT": "ABOR",
         "OUTPUT": "OUTP", "SYSTEM": "SYST", "CHANNEL": "CHAN", "MODEL": "MOD", "SERIAL": "SER", "ERROR": "ERR",
         "FORMAT": "FORM", "BORDER": "BORD", "LIMIT": "LIM", "EMULATION": "EMUL", "MINMAX": "MINM",
         "RANGE": "RANG", "MEASURE": "MEAS", "STATE": "STAT"}
_OPTIONAL = {"LEV", "LEVEL", "IMM", "IMMEDIATE", "AMPL", "AMPLITUDE", "DATA", "SCAL", "SCALAR", "DC"}
_CHANNELS = re.compile(r"\(@([0-9,:\s]+)\)")


@dataclass
class Faults:
    interleave_modules: bool = False  # EnergyRunner issue #24: the other module's voltage slips into the log
    modules: str = "N6781A,N6731B"
    idn: str = IDN
    refuse: str = ""  # a command header (e.g. VOLT) answered with -222 "Data out of range"
    close_after: int = 0  # FETC:ELOG? queries after which the connection drops (the instrument gone)
    noise_rel: float = 0.001

    @classmethod
    def from_dict(cls, data: dict) -> "Faults":
        return cls(**data)


class ScpiSmuEmulator(LineServer):
    name = "scpi"

    def __init__(self, bench, *, faults: Faults | None = None, seed: int = 0):
        super().__init__()
        self.bench = bench
        self.faults = faults or Faults()
        self.modules = [m.strip() for m in self.faults.modules.split(",") if m.strip()]
        self._rng = np.random.default_rng(seed)
        self.address = f"TCPIP::127.0.0.1::{self.port}::SOCKET"
        self.received: list[str] = []  # every command, as sent
        self._fetches = 0
        self._reset()

    def _reset(self) -> None:
        count = len(self.modules)
        self.errors: list[str] = []
        self.volts = [0.0] * count
        self.output = [False] * count
        self.period_s = [0.1] * count
        self.functions = {(c, f): False for c in range(count) for f in ("CURR", "VOLT")}
        self.binary = False
        self._log: DataLog | None = None

    # -- the connection ------------------------------------------------------------------------
    def _line(self, conn: socket.socket, message: bytes) -> bool:
        replies = []
        for command in message.decode("ascii", "replace").strip().split(";"):
            if command.strip():
                self.received.append(command.strip())
                reply = self._command(command.strip().lstrip(":"))
                if reply is _DROP:
                    return False
                if reply is not None:
                    replies.append(reply)
        if replies:  # one response message: the answers of its queries, `;`-separated
            body = b";".join(r if isinstance(r, bytes) else r.encode() for r in replies)
            conn.sendall(body + b"\n")
        return True

    # -- commands ------------------------------------------------------------------------------
    def _command(self, text: str):
        header, _, argument = text.partition(" ")
        query = header.endswith("?")
        key = _normalise(header.rstrip("?"))
        if self.faults.refuse and key == _normalise(self.faults.refuse) and not query:
            self.errors.append('-222,"Data out of range"')
            return None
        handler = _HANDLERS.get((key, query))
        if handler is None:
            self.errors.append(f'-113,"Undefined header;{header}"')
            return None
        values, channels = _arguments(argument)
        try:
            return handler(self, values, channels)
        except _ScpiError as exc:
            self.errors.append(str(exc))
            return None

    def _channels(self, channels: list[int] | None) -> list[int]:
        if channels is None:
            return [0]
        if any(not 1 <= c <= len(self.modules) for c in channels):
            raise _ScpiError('-222,"Data out of range;channel"')
        return [c - 1 for c in channels]


class _ScpiError(Exception):
    pass


_DROP = object()


class DataLog:
    """The running external data log of one channel: a record per period from the trigger."""

    def __init__(self, bench, channel: int, period_s: float, emulator: ScpiSmuEmulator):
        self.bench, self.channel, self.emulator = bench, channel, emulator
        self.period_us = period_s * 1e6
        self.start_us: float | None = None
        self.served = 0

    def trigger(self) -> None:
        self.start_us = self.bench.horizon_us()
        self.bench.note({"acquisition_start_us": self.start_us, "rate_hz": 1e6 / self.period_us})

    def fetch(self, most: int) -> np.ndarray:
        if self.start_us is None:
            return np.empty(0, np.float32)
        ready = int((self.bench.horizon_us() - self.start_us) / self.period_us) - self.served
        count = max(0, min(most, ready))
        bounds = self.start_us + (self.served + np.arange(count + 1)) * self.period_us
        volts = self.bench.supply_v()
        energy = np.diff(self.bench.energy_at(bounds))
        self.bench.forget_before(bounds[-1])  # each record is served once: memory stays flat
        self.served += count
        emulator = self.emulator
        amps = energy / max(volts, 1e-9) / (self.period_us * 1e-6)
        amps *= 1 + emulator.faults.noise_rel * emulator._rng.standard_normal(count)
        records = np.column_stack([amps, np.full(count, volts)])
        if emulator.faults.interleave_modules and len(emulator.modules) > 1:
            other = next(v for c, v in enumerate(emulator.volts) if c != self.channel)
            records = np.insert(records, np.arange(2, count + 1, 2), [other, other], axis=0)
        return records.astype(np.float32).ravel()


def _handler(key: str, query: bool = False):
    def register(function):
        _HANDLERS[(key, query)] = function
        return function
    return register


_HANDLERS: dict = {}


@_handler("*IDN", True)
def _idn(self, values, channels):
    return self.faults.idn


@_handler("*RST")
def _rst(self, values, channels):
    errors = self.errors
    self._reset()
    self.errors = errors


@_handler("*CLS")
def _cls(self, values, channels):
    self.errors.clear()


@_handler("*OPC", True)
def _opc(self, values, channels):
    return "1"


@_handler("SYST:ERR", True)
def _error(self, values, channels):
    return self.errors.pop(0) if self.errors else '+0,"No error"'


@_handler("SYST:CHAN", True)
def _channel_count(self, values, channels):
    return str(len(self.modules))


@_handler("SYST:CHAN:MOD", True)
def _models(self, values, channels):
    return ",".join(self.modules[c] for c in self._channels(channels))


@_handler("SYST:CHAN:SER", True)
def _serials(self, values, channels):
    return ",".join(f"MY5600{c + 1:04d}" for c in self._channels(channels))


@_handler("EMUL")
def _emulation(self, values, channels):
    _need(values)
    if self.modules[self._channels(channels)[0]] not in ("N6781A", "N6782A", "N6785A", "N6786A"):
        raise _ScpiError('-221,"Settings conflict;not an SMU"')


@_handler("FUNC")
def _priority(self, values, channels):
    if _need(values).upper() not in ("VOLT", "VOLTAGE", "CURR", "CURRENT"):
        raise _ScpiError('-224,"Illegal parameter value"')


@_handler("VOLT")
def _voltage(self, values, channels):
    volts = _number(_need(values))
    if not 0 <= volts <= 20:
        raise _ScpiError('-222,"Data out of range"')
    for c in self._channels(channels):
        self.volts[c] = volts
        if c == 0:
            self.bench.set_voltage(volts)


@_handler("VOLT", True)
def _voltage_query(self, values, channels):
    return ",".join(f"{self.volts[c]:+.6E}" for c in self._channels(channels))


@_handler("MEAS:VOLT", True)
def _measure_voltage(self, values, channels):
    return ",".join(f"{self.bench.supply_v() if c == 0 and self.output[c] else 0.0:+.6E}"
                    for c in self._channels(channels))


@_handler("CURR:LIM")
def _current_limit(self, values, channels):
    if not 0 < _number(_need(values)) <= 3:
        raise _ScpiError('-222,"Data out of range"')


@_handler("OUTP")
def _output(self, values, channels):
    on = _boolean(_need(values))
    for c in self._channels(channels):
        self.output[c] = on
        if c == 0:
            self.bench.set_power(on)


@_handler("SENS:ELOG:PER")
def _period(self, values, channels):
    seconds = _number(_need(values))
    if not 0 < seconds <= 60:
        raise _ScpiError('-222,"Data out of range"')
    steps = max(MIN_STEPS, round(seconds / PERIOD_STEP_S))  # the logger's period is a whole number of steps
    for c in self._channels(channels):
        self.period_s[c] = steps * PERIOD_STEP_S


@_handler("SENS:ELOG:PER", True)
def _period_query(self, values, channels):
    return ",".join(f"{self.period_s[c]:+.6E}" for c in self._channels(channels))


for _function in ("CURR", "VOLT"):
    def _set_function(self, values, channels, function=_function):
        on = _boolean(_need(values))
        for c in self._channels(channels):
            self.functions[(c, function)] = on

    def _accept(self, values, channels):
        _boolean(_need(values))
        self._channels(channels)

    _HANDLERS[(f"SENS:ELOG:FUNC:{_function}", False)] = _set_function
    _HANDLERS[(f"SENS:ELOG:FUNC:{_function}:MINM", False)] = _accept
    _HANDLERS[(f"SENS:ELOG:{_function}:RANG:AUTO", False)] = _accept


@_handler("FORM")
def _format(self, values, channels):
    kind = _need(values).upper()
    if kind not in ("REAL", "ASC", "ASCII"):
        raise _ScpiError('-224,"Illegal parameter value"')
    self.binary = kind == "REAL"


@_handler("FORM:BORD")
def _byte_order(self, values, channels):
    if _need(values).upper() not in ("NORM", "NORMAL"):  # only big-endian is emulated
        raise _ScpiError('-224,"Illegal parameter value"')


@_handler("TRIG:ELOG:SOUR")
def _trigger_source(self, values, channels):
    if _need(values).upper() not in ("BUS", "EXT", "EXTERNAL"):
        raise _ScpiError('-224,"Illegal parameter value"')


@_handler("INIT:ELOG")
def _initiate(self, values, channels):
    channel = self._channels(channels)[0]
    if not (self.functions[(channel, "CURR")] and self.functions[(channel, "VOLT")]):
        raise _ScpiError('-221,"Settings conflict;the emulated log needs current and voltage"')
    self._log = DataLog(self.bench, channel, self.period_s[channel], self)


@_handler("TRIG:ELOG")
def _trigger(self, values, channels):
    if self._log is None or self._log.start_us is not None:
        raise _ScpiError('-221,"Settings conflict;data log not initiated"')
    self._log.trigger()


@_handler("FETC:ELOG", True)
def _fetch(self, values, channels):
    self._fetches += 1
    if self.faults.close_after and self._fetches > self.faults.close_after:
        return _DROP
    if self._log is None:
        raise _ScpiError('-230,"Data corrupt or stale"')
    data = self._log.fetch(int(_number(_need(values))))
    if self.binary:
        raw = data.astype(">f4").tobytes()
        return f"#{len(str(len(raw)))}{len(raw)}".encode() + raw
    return ",".join(f"{v:+.6E}" for v in data)


@_handler("ABOR:ELOG")
def _abort(self, values, channels):
    self._log = None


# -- parsing ---------------------------------------------------------------------------------------
def _normalise(header: str) -> str:
    words = [_LONG.get(w, w) for w in header.upper().split(":") if w]
    if words and words[0] == "SOUR" and len(words) > 1:  # [SOURce:]VOLTage and friends
        words = words[1:]
    return ":".join(w for w in words if w not in _OPTIONAL or w == words[0])


def _arguments(text: str) -> tuple[list[str], list[int] | None]:
    channels = None
    match = _CHANNELS.search(text)
    if match:
        channels = []
        for part in match.group(1).split(","):
            low, _, high = part.strip().partition(":")
            channels.extend(range(int(low), int(high or low) + 1))
        text = text[: match.start()] + text[match.end():]
    return [v.strip() for v in text.split(",") if v.strip()], channels


def _need(values: list[str]) -> str:
    if not values:
        raise _ScpiError('-109,"Missing parameter"')
    return values[0]


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _ScpiError('-104,"Data type error"') from None


def _boolean(text: str) -> bool:
    if text.upper() in ("ON", "1"):
        return True
    if text.upper() in ("OFF", "0"):
        return False
    raise _ScpiError('-224,"Illegal parameter value"')
