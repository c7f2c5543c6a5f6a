"""A Keysight N6705 with an N6781A SMU (and an N6731B DC module) as a raw-socket SCPI instrument
on 127.0.0.1, which pyvisa-py opens as `TCPIP::127.0.0.1::PORT::SOCKET`.

It answers the commands keysight.py sends (see there for where each was checked) with SCPI's
rules (scpi_server.py; `[SOURce:]` optional, -221 settings conflict besides). The external data
log samples the virtual bench: a record per period holds the channel's average current and
voltage, served by `FETC:ELOG?` up to the bench's horizon as ASCII or as an IEEE-488.2 block of
big-endian float32 (`FORM REAL`, `FORM:BORD NORM`).

Fault switches: the two-module interleaving of EnergyRunner issue #24 (the other module's
voltage slips into the log whatever its functions are set to), the modules fitted, the `*IDN?`
answer, a command header refused with -222, the connection dropped after N fetches, noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .keysight import PERIOD_STEP_S, SMU_MODULES
from .scpi_server import (
    DROP,
    CommonFaults,
    ScpiError,
    ScpiServer,
    block,
    boolean,
    choice,
    data_format_handlers,
    handler,
    need,
    number,
)

IDN = "Keysight Technologies,N6705C,MY56000142,D.04.01"
MIN_STEPS = 5  # the shortest data-log period, 102.4 µs


@dataclass
class Faults(CommonFaults):  # close_after counts FETC:ELOG? queries
    interleave_modules: bool = False  # EnergyRunner issue #24: the other module's voltage slips into the log
    modules: str = "N6781A,N6731B"
    idn: str = IDN


class N6705Emulator(ScpiServer):
    name = "n6705"
    handlers: dict = {}
    strip_source = True

    def __init__(self, bench, *, faults: Faults | None = None, seed: int = 0):
        super().__init__(faults or Faults())
        self.bench = bench
        self.modules = [m.strip() for m in self.faults.modules.split(",") if m.strip()]
        self._rng = np.random.default_rng(seed)
        self.reset()

    def reset(self) -> None:
        count = len(self.modules)
        self.volts = [0.0] * count
        self.output = [False] * count
        self.period_s = [0.1] * count
        self.functions = {(c, f): False for c in range(count) for f in ("CURR", "VOLT")}
        self.binary = False
        self._log: DataLog | None = None

    def _channels(self, channels: list[int] | None) -> list[int]:
        if channels is None:
            return [0]
        if any(not 1 <= c <= len(self.modules) for c in channels):
            raise ScpiError('-222,"Data out of range;channel"')
        return [c - 1 for c in channels]


class DataLog:
    """The running external data log of one channel: a record per period from the trigger."""

    def __init__(self, bench, channel: int, period_s: float, emulator: N6705Emulator):
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


_HANDLERS = N6705Emulator.handlers


@handler(_HANDLERS, "SYST:CHAN", True)
def _channel_count(self, values, channels):
    return str(len(self.modules))


@handler(_HANDLERS, "SYST:CHAN:MOD", True)
def _models(self, values, channels):
    return ",".join(self.modules[c] for c in self._channels(channels))


@handler(_HANDLERS, "SYST:CHAN:SER", True)
def _serials(self, values, channels):
    return ",".join(f"MY5600{c + 1:04d}" for c in self._channels(channels))


@handler(_HANDLERS, "EMUL")
def _emulation(self, values, channels):
    need(values)
    if self.modules[self._channels(channels)[0]] not in SMU_MODULES:
        raise ScpiError('-221,"Settings conflict;not an SMU"')


@handler(_HANDLERS, "FUNC")
def _priority(self, values, channels):
    choice(values, ("VOLT", "VOLTAGE", "CURR", "CURRENT"))


@handler(_HANDLERS, "VOLT")
def _voltage(self, values, channels):
    volts = number(need(values))
    if not 0 <= volts <= 20:
        raise ScpiError('-222,"Data out of range"')
    for c in self._channels(channels):
        self.volts[c] = volts
        if c == 0:
            self.bench.set_voltage(volts)


@handler(_HANDLERS, "VOLT", True)
def _voltage_query(self, values, channels):
    return ",".join(f"{self.volts[c]:+.6E}" for c in self._channels(channels))


@handler(_HANDLERS, "MEAS:VOLT", True)
def _measure_voltage(self, values, channels):
    return ",".join(f"{self.bench.supply_v() if c == 0 and self.output[c] else 0.0:+.6E}"
                    for c in self._channels(channels))


@handler(_HANDLERS, "CURR:LIM")
def _current_limit(self, values, channels):
    if not 0 < number(need(values)) <= 3:
        raise ScpiError('-222,"Data out of range"')


@handler(_HANDLERS, "OUTP")
def _output(self, values, channels):
    on = boolean(need(values))
    for c in self._channels(channels):
        self.output[c] = on
        if c == 0:
            self.bench.set_power(on)


@handler(_HANDLERS, "SENS:ELOG:PER")
def _period(self, values, channels):
    seconds = number(need(values))
    if not 0 < seconds <= 60:
        raise ScpiError('-222,"Data out of range"')
    steps = max(MIN_STEPS, round(seconds / PERIOD_STEP_S))  # the logger's period is a whole number of steps
    for c in self._channels(channels):
        self.period_s[c] = steps * PERIOD_STEP_S


@handler(_HANDLERS, "SENS:ELOG:PER", True)
def _period_query(self, values, channels):
    return ",".join(f"{self.period_s[c]:+.6E}" for c in self._channels(channels))


for _function in ("CURR", "VOLT"):
    def _set_function(self, values, channels, function=_function):
        on = boolean(need(values))
        for c in self._channels(channels):
            self.functions[(c, function)] = on

    def _accept(self, values, channels):
        boolean(need(values))
        self._channels(channels)

    _HANDLERS[(f"SENS:ELOG:FUNC:{_function}", False)] = _set_function
    _HANDLERS[(f"SENS:ELOG:FUNC:{_function}:MINM", False)] = _accept
    _HANDLERS[(f"SENS:ELOG:{_function}:RANG:AUTO", False)] = _accept


data_format_handlers(_HANDLERS, "FORM", ("NORM", "NORMAL"))  # big-endian only


@handler(_HANDLERS, "TRIG:ELOG:SOUR")
def _trigger_source(self, values, channels):
    choice(values, ("BUS", "EXT", "EXTERNAL"))


@handler(_HANDLERS, "INIT:ELOG")
def _initiate(self, values, channels):
    channel = self._channels(channels)[0]
    if not (self.functions[(channel, "CURR")] and self.functions[(channel, "VOLT")]):
        raise ScpiError('-221,"Settings conflict;the emulated log needs current and voltage"')
    self._log = DataLog(self.bench, channel, self.period_s[channel], self)


@handler(_HANDLERS, "TRIG:ELOG")
def _trigger(self, values, channels):
    if self._log is None or self._log.start_us is not None:
        raise ScpiError('-221,"Settings conflict;data log not initiated"')
    self._log.trigger()


@handler(_HANDLERS, "FETC:ELOG", True)
def _fetch(self, values, channels):
    if not self.fetched():
        return DROP
    if self._log is None:
        raise ScpiError('-230,"Data corrupt or stale"')
    data = self._log.fetch(int(number(need(values))))
    if self.binary:
        return block(data.astype(">f4").tobytes())
    return ",".join(f"{v:+.6E}" for v in data)


@handler(_HANDLERS, "ABOR:ELOG")
def _abort(self, values, channels):
    self._log = None
