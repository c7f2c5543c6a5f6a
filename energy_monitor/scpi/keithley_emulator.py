"""A Keithley 2450 (or 2461) SourceMeter in its SCPI command set as a raw-socket instrument on
127.0.0.1, which pyvisa-py opens as `TCPIP::127.0.0.1::PORT::SOCKET`.

It answers the commands keithley.py sends (see there for what each was checked against) with
the rules of scpi_server.py and the SourceMeter's own: string arguments in quotes, the error
query's `0,"No error;0;0 0"`, `*LANG?`. Once `INIT` starts the trigger model, readings go into
defbuffer1 from the virtual bench: on the 2450 one every READING_INTERVAL_S, each the mean
current over its NPLC aperture (the A/D integrates only then); on the 2461's digitizer one per
1/SRAT, each the mean over its whole interval. Each reading carries its RELative time from the
first. The buffer holds `capacity` readings, filled continuously: its indices wrap, and
readings not fetched in time are overwritten. `TRAC:DATA?` serves (reading, time) pairs as
ASCII or, after `FORM:DATA REAL`, as an IEEE-488.2 indefinite block (`#0`) of little-endian
float64 (`FORM:BORD SWAP`, the default) ended by a newline.

Fault switches: the model (2450 or 2461), the command set (`language=TSP` is refused by the
driver), the buffer's capacity and a stall (together: readings overwritten before they are
fetched), the `*IDN?` answer, a command header refused with -222, the connection dropped after
N fetches, noise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

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

LINE_HZ = 50
READING_OVERHEAD_S = 100e-6  # the 2450's time per reading beyond its aperture, with autozero off


@dataclass
class Faults(CommonFaults):  # close_after counts TRAC:DATA? queries
    model: str = "2450"  # 2450 or 2461 (with the digitizer)
    language: str = "SCPI"
    capacity: int = 1_000_000  # the most readings defbuffer1 holds here: a larger TRAC:POIN is cut to it
    stall_after: int = 0  # the buffer polls after which the instrument stalls once (busy) ...
    stall_s: float = 0.0  # ... for this long


class KeithleyEmulator(ScpiServer):
    name = "keithley"
    handlers: dict = {}
    no_error = '0,"No error;0;0 0"'

    def __init__(self, bench, *, faults: Faults | None = None, seed: int = 0):
        faults = faults or Faults()
        if not faults.idn:
            faults.idn = f"KEITHLEY INSTRUMENTS,MODEL {faults.model},04512345,1.7.12b"
        super().__init__(faults)
        self.bench = bench
        self._rng = np.random.default_rng(seed)
        self.reset()

    def reset(self) -> None:
        self.volts = 0.0
        self.output = False
        self.function = "VOLT"  # the measure function until SENS:FUNC or DIG:FUNC sets current
        self.digitize = False
        self.nplc = 1.0
        self.sample_rate = 100_000
        self.binary = False
        self.points = 100_000
        self.loaded = False
        self.log: ReadingLog | None = None
        self.polls = 0

    def start_log(self) -> None:
        if self.digitize:
            interval = aperture = 1 / self.sample_rate
        else:
            aperture = self.nplc / LINE_HZ
            interval = aperture + READING_OVERHEAD_S
        self.log = ReadingLog(self, interval, aperture, self.points)


class ReadingLog:
    """defbuffer1 while the trigger model runs: readings made up to the bench's horizon."""

    def __init__(self, emulator: KeithleyEmulator, interval_s: float, aperture_s: float, capacity: int):
        self.emulator, self.bench = emulator, emulator.bench
        self.interval_us, self.aperture_us = interval_s * 1e6, aperture_s * 1e6
        self.capacity = capacity
        self.start_us = self.bench.horizon_us()
        # sample 0 of the driver's grid starts at the first reading; the grid's rate is the driver's
        self.bench.note({"acquisition_start_us": self.start_us, "rate_hz": None})
        self.made = 0  # readings made so far
        self.amps = np.zeros(capacity)
        self.times = np.zeros(capacity)

    def update(self) -> None:
        ready = int((self.bench.horizon_us() - self.start_us - self.aperture_us) / self.interval_us) + 1
        count = ready - self.made
        if count <= 0:
            return
        starts = self.start_us + (self.made + np.arange(count)) * self.interval_us
        volts = max(self.bench.supply_v(), 1e-9)
        energy = self.bench.energy_at(starts + self.aperture_us) - self.bench.energy_at(starts)
        self.bench.forget_before(starts[-1])
        amps = energy / volts / (self.aperture_us * 1e-6)
        amps *= 1 + self.emulator.faults.noise_rel * self.emulator._rng.standard_normal(count)
        slots = (self.made + np.arange(count)) % self.capacity
        self.amps[slots], self.times[slots] = amps, (starts - self.start_us) * 1e-6
        self.made = ready

    @property
    def end_index(self) -> int:
        """The 1-based buffer index of the newest reading (0 before the first)."""
        return 0 if self.made == 0 else (self.made - 1) % self.capacity + 1

    def pairs(self, first: int, last: int) -> np.ndarray:
        if not 1 <= first <= last <= min(self.made, self.capacity):
            raise ScpiError('-222,"Data out of range;buffer index"')
        slots = np.arange(first - 1, last)
        return np.column_stack([self.amps[slots], self.times[slots]]).ravel()


_HANDLERS = KeithleyEmulator.handlers


def _unquote(text: str) -> str:
    return text.strip().strip('"').strip("'")


def _buffer(values: list[str], position: int) -> None:
    if len(values) > position and _unquote(values[position]).lower() != "defbuffer1":
        raise ScpiError('-222,"Data out of range;only defbuffer1 is emulated"')


@handler(_HANDLERS, "*LANG", True)
def _language(self, values, channels):
    return self.faults.language


@handler(_HANDLERS, "SOUR:FUNC")
def _source_function(self, values, channels):
    choice(values, ("VOLT", "VOLTAGE"), "only voltage sourcing is emulated")


@handler(_HANDLERS, "SOUR:VOLT:RANG")
def _source_range(self, values, channels):
    if not 0 < number(need(values)) <= 200:
        raise ScpiError('-222,"Data out of range"')


@handler(_HANDLERS, "SOUR:VOLT")
def _source_voltage(self, values, channels):
    volts = number(need(values))
    if not 0 <= volts <= 20:
        raise ScpiError('-222,"Data out of range"')
    self.volts = volts
    self.bench.set_voltage(volts)


@handler(_HANDLERS, "SOUR:VOLT", True)
def _source_voltage_query(self, values, channels):
    return f"{self.volts:.6E}"


@handler(_HANDLERS, "SOUR:VOLT:ILIM")
def _current_limit(self, values, channels):
    limit = number(need(values))
    if not 1e-9 <= limit <= (7.35 if self.faults.model == "2461" else 1.05):
        raise ScpiError('-222,"Data out of range"')


@handler(_HANDLERS, "OUTP")
def _output(self, values, channels):
    self.output = boolean(need(values))
    self.bench.set_power(self.output)


@handler(_HANDLERS, "SENS:FUNC")
def _measure_function(self, values, channels):
    if _unquote(need(values)).upper() not in ("CURR", "CURR:DC", "CURRENT"):
        raise ScpiError('-224,"Illegal parameter value;only current is emulated"')
    self.function, self.digitize = "CURR", False


@handler(_HANDLERS, "SENS:CURR:NPLC")
def _nplc(self, values, channels):
    nplc = number(need(values))
    if not 0.01 <= nplc <= 10:
        raise ScpiError('-222,"Data out of range"')
    self.nplc = nplc


def _accept_switch(self, values, channels):
    boolean(need(values))


for _header in ("SENS:CURR:RANG:AUTO", "SENS:CURR:AZER"):
    _HANDLERS[(_header, False)] = _accept_switch


@handler(_HANDLERS, "DIG:FUNC")
def _digitize_function(self, values, channels):
    if self.faults.model != "2461":
        raise ScpiError('-113,"Undefined header;the 2450 has no digitizer"')
    if _unquote(need(values)).upper() not in ("CURR", "CURRENT"):
        raise ScpiError('-224,"Illegal parameter value;only current is emulated"')
    self.function, self.digitize = "CURR", True


@handler(_HANDLERS, "DIG:CURR:RANG")
def _digitize_range(self, values, channels):
    if not 0 < number(need(values)) <= 10:
        raise ScpiError('-222,"Data out of range"')


@handler(_HANDLERS, "DIG:CURR:SRAT")
def _sample_rate(self, values, channels):
    rate = number(need(values))
    if not 1000 <= rate <= 1_000_000:
        raise ScpiError('-222,"Data out of range"')
    self.sample_rate = int(rate)


@handler(_HANDLERS, "TRAC:POIN")
def _points(self, values, channels):
    points = int(number(need(values)))
    _buffer(values, 1)
    if not 10 <= points <= 1_000_000:
        raise ScpiError('-222,"Data out of range;buffer size"')
    self.points = min(points, self.faults.capacity)


@handler(_HANDLERS, "TRAC:POIN", True)
def _points_query(self, values, channels):
    _buffer(values, 0)
    return str(self.points)


@handler(_HANDLERS, "TRAC:CLE")
def _clear(self, values, channels):
    _buffer(values, 0)
    self.log = None


@handler(_HANDLERS, "TRAC:FILL:MODE")
def _fill_mode(self, values, channels):
    choice(values, ("CONT", "CONTINUOUS"), "only continuous filling is emulated")
    _buffer(values, 1)


data_format_handlers(_HANDLERS, "FORM:DATA", ("SWAP", "SWAPPED"))  # little-endian, the default


@handler(_HANDLERS, "TRIG:LOAD")
def _load(self, values, channels):
    template = _unquote(need(values))
    if template == "DurationLoop" and not self.digitize:
        if not 0 < number(need(values, 1)) <= 100_000:
            raise ScpiError('-222,"Data out of range;duration"')
        _buffer(values, 3)
    elif template != "Empty":
        raise ScpiError(f'-224,"Illegal parameter value;{template} is not emulated"')
    self.loaded = template


@handler(_HANDLERS, "TRIG:BLOC:BUFF:CLE")
def _block_clear(self, values, channels):
    if self.loaded != "Empty" or number(need(values)) != 1:
        raise ScpiError('-221,"Settings conflict;block 1 of an empty trigger model expected"')


@handler(_HANDLERS, "TRIG:BLOC:DIG")
def _block_digitize(self, values, channels):
    if self.loaded != "Empty" or not self.digitize or number(need(values)) != 2:
        raise ScpiError('-221,"Settings conflict;a digitize block needs a digitize function"')
    _buffer(values, 1)
    if need(values, 2).upper() not in ("INF", "INFINITE"):
        raise ScpiError('-224,"Illegal parameter value;only an endless digitize block is emulated"')
    self.loaded = "digitize"


@handler(_HANDLERS, "INIT")
def _initiate(self, values, channels):
    if self.loaded not in ("DurationLoop", "digitize") or self.function != "CURR":
        raise ScpiError('-221,"Settings conflict;no measuring trigger model loaded"')
    self.start_log()


@handler(_HANDLERS, "ABOR")
def _abort(self, values, channels):
    self.loaded = False


@handler(_HANDLERS, "TRAC:ACT:END", True)
def _end(self, values, channels):
    _buffer(values, 0)
    self.polls += 1
    if self.polls == self.faults.stall_after:
        time.sleep(self.faults.stall_s)
    if self.log is None:
        return "0"
    if self.loaded:
        self.log.update()
    return str(self.log.end_index)


@handler(_HANDLERS, "TRAC:DATA", True)
def _data(self, values, channels):
    if not self.fetched():
        return DROP
    first, last = int(number(need(values))), int(number(need(values, 1)))
    _buffer(values, 2)
    if [v.upper() for v in values[3:]] != ["READ", "REL"]:
        raise ScpiError('-224,"Illegal parameter value;READ,REL emulated"')
    if self.log is None:
        raise ScpiError('-222,"Data out of range;buffer empty"')
    data = self.log.pairs(first, last)
    if self.binary:
        return block(data.astype("<f8").tobytes(), definite=False)
    return ",".join(f"{v:.9E}" for v in data)
