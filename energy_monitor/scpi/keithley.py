"""Keithley 2450 / 2460 / 2461 SourceMeters (SCPI command set): their commands (smu.py does the rest).

The 2450 and 2460 measure current with an integrating A/D: readings of NPLC_APERTURE go into
the reading buffer, each with its time (RELative, seconds from the buffer's first reading), at
an interval the instrument sets (aperture plus overhead, not a chosen rate). The 2461 adds a
digitizer that samples at a set rate (`:DIG:CURR:SRAT`). Either way the readings, with their
times, are resampled here onto the runner's uniform grid: the current is taken as constant from
one reading to the next, its charge integrated, and each grid sample gets the charge that falls
in it. The reading interval is stated as timing uncertainty, since sample 0's instant is the
first reading's and not exactly the trigger's.

Commands, and what each was checked against (Keithley 2450 / 2461 Reference Manuals, SCPI
command reference, as published on manual sites; see the notes in each method):
`*IDN?` (`KEITHLEY INSTRUMENTS,MODEL 2450,<serial>,<firmware>`), `*LANG?` (SCPI or TSP: the
command set takes effect after a restart, so a TSP instrument is refused with how to switch),
`:SOUR:FUNC VOLT`, `:SOUR:VOLT:RANG`, `:SOUR:VOLT`, `:SOUR:VOLT:ILIM`, `:SOUR:VOLT?`, `:OUTP`,
`:SENS:FUNC "CURR"`, `:SENS:CURR:RANG:AUTO`, `:SENS:CURR:NPLC`, `:SENS:CURR:AZER`,
`:DIG:FUNC "CURR"`, `:DIG:CURR:RANG`, `:DIG:CURR:SRAT`, `:TRAC:CLE`, `:TRAC:POIN`,
`:TRAC:FILL:MODE CONT` (on an empty buffer), `:TRIG:LOAD "DurationLoop",<s>,<delay>,"<buf>"` (the
2450; up to 100 000 s), `:TRIG:LOAD "Empty"` + `:TRIG:BLOC:BUFF:CLE 1` + `:TRIG:BLOC:DIG 2,"<buf>",INF`
(the 2461: a trigger model cannot hold a measure and a digitize block), `:INIT` (no `*WAI`
after it: it would wait for the model's end), `:ABOR`, `:TRAC:ACT:END?`,
`:TRAC:DATA? <start>,<end>,"defbuffer1",READ,REL` (REL: seconds from buffer entry 1; split at
the wrap), `:FORM:DATA REAL` (8-byte doubles in an indefinite `#0` block, read by its expected
length since a newline byte may be inside) or `ASC`, `:FORM:BORD SWAP` (little-endian, the
default). Not found in the published pages and so unverified: the 2450's reading rate at NPLC
0.01 (NPLC_INTERVAL_S is an estimate), `:DIG:CURR:RANG`, the `SCPI` DurationLoop argument list
(taken from its TSP form), how REL counts after the buffer wraps, and the empty error queue's
exact text (`0,"No error;0;0 0"`, from public code for the same firmware family). Firmware from
before the "DurationLoop" templates (the 2013 manual's `:TRIG:LOAD:LOOP:DUR`) answers the load
with an error, which refuses the run at start.

The buffer fills continuously and wraps: readings not fetched before the instrument comes round
again are lost. That shows as a jump in the readings' times, which stops the run (a data error)
instead of being integrated over.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import MonitorDataError, MonitorRefused

MODELS = ("MODEL 2450", "MODEL 2460", "MODEL 2461")
DIGITIZERS = ("MODEL 2461",)
CURRENT_LIMIT_A = 0.2
NPLC = 0.01  # the shortest integration (at 50 Hz mains: 200 µs)
NPLC_INTERVAL_S = 300e-6  # about one reading per NPLC 0.01 aperture plus overhead, with autozero off
DIGITIZER_RANGE_A = 0.1  # the digitizer has no autorange: the 100 mA range covers an MCU's peaks
BUFFER_READINGS = 1_000_000  # defbuffer1 resized to this (the 2450's front-panel limit), filled continuously
DURATION_S = 100_000  # the trigger model's duration loop: longer than any run
GAP_READINGS = 20  # a jump of more than this many reading intervals between fetches: readings were overwritten


class KeithleySmu:
    name = "Keithley SourceMeter"
    summary = f"the Keithley {', '.join(m.split()[-1] for m in MODELS)} (SCPI command set)"
    error_query = "SYST:ERR?"
    current_limit_a = CURRENT_LIMIT_A
    stretch_reason = "the readings' times run faster than the wall clock"

    @staticmethod
    def drives(model: str) -> bool:
        return model.upper() in MODELS

    def __init__(self, instrument, resource: str, channel: int, binary: bool):
        if channel != 1:
            raise MonitorRefused(f"a Keithley SourceMeter has one channel, not channel={channel}")
        self.instrument, self.resource, self.binary = instrument, resource, binary
        self.digitizer = False
        self.timing_uncertainty_s = NPLC_INTERVAL_S
        self.acquisition: dict = {}
        self.volts = 0.0

    def identify(self, maker: str, model: str, serial: str, firmware: str) -> dict:
        instrument = self.instrument
        language = instrument.query("*LANG?").strip().upper()
        if language != "SCPI":
            raise MonitorRefused(f"the {model.title()} at {self.resource} runs its {language} command set; switch it "
                                 "to SCPI (MENU > System > Settings > Command Set) and restart it")
        instrument.write("*RST;*CLS")
        self.digitizer = model.upper() in DIGITIZERS
        self.name = f"Keithley {model.split()[-1]}"
        return {"model": self.name, "serial": serial, "firmware": firmware, "command_set": language,
                "digitizer": self.digitizer}

    def source(self, millivolts: int) -> None:
        volts = millivolts / 1000
        # the source range given as the level: the smallest range that holds it
        for command in ("SOUR:FUNC VOLT", f"SOUR:VOLT:RANG {volts:g}", f"SOUR:VOLT {volts:g}",
                        f"SOUR:VOLT:ILIM {CURRENT_LIMIT_A:g}"):
            self.instrument.write(command)

    def read_back_v(self) -> float:
        self.volts = float(self.instrument.query("SOUR:VOLT?"))
        return self.volts

    def output(self, on: bool) -> None:
        self.instrument.write(f"OUTP {'ON' if on else 'OFF'}")

    def arm(self, rate_hz: float) -> str:
        """Set up the measurement into a continuously filled buffer; the command that starts it."""
        write = self.instrument.write
        if self.digitizer:
            sample_rate = int(math.ceil(rate_hz / 1000) * 1000)  # at least the grid's rate, in the SRAT's steps
            for command in ('DIG:FUNC "CURR"', f"DIG:CURR:RANG {DIGITIZER_RANGE_A:g}", f"DIG:CURR:SRAT {sample_rate}"):
                write(command)
            self.timing_uncertainty_s = 1 / sample_rate
            sampling = f"digitizer at {sample_rate} samples/s on the {DIGITIZER_RANGE_A * 1000:g} mA range"
        else:
            for command in ('SENS:FUNC "CURR"', "SENS:CURR:RANG:AUTO ON", f"SENS:CURR:NPLC {NPLC:g}",
                            "SENS:CURR:AZER OFF"):
                write(command)
            sampling = f"readings of NPLC {NPLC:g}, autorange, autozero off (about {NPLC_INTERVAL_S * 1e6:g} µs apart)"
        write(f'TRAC:POIN {BUFFER_READINGS},"defbuffer1"')
        self.capacity = int(float(self.instrument.query('TRAC:POIN? "defbuffer1"')))  # where its indices wrap
        for command in ('TRAC:CLE "defbuffer1"', 'TRAC:FILL:MODE CONT,"defbuffer1"',
                        "FORM:DATA REAL;:FORM:BORD SWAP" if self.binary else "FORM:DATA ASC"):
            write(command)
        if self.digitizer:  # a model may not hold a measure block beside a digitize block: an empty one
            for command in ('TRIG:LOAD "Empty"', "TRIG:BLOC:BUFF:CLE 1", 'TRIG:BLOC:DIG 2,"defbuffer1",INF'):
                write(command)
        else:
            write(f'TRIG:LOAD "DurationLoop",{DURATION_S},0,"defbuffer1"')
        self.acquisition = {"buffer_readings": self.capacity,
                            "data_format": "REAL (IEEE-488.2 float64 blocks)" if self.binary else "ASCII",
                            "sampling": f"{sampling}, resampled onto {rate_hz:g} samples/s by the readings' times"}
        self._grid = _Resampler(rate_hz)
        self._next = 1  # the buffer index of the next reading to fetch
        return "INIT"

    def fetch(self):
        end = int(float(self.instrument.query('TRAC:ACT:END? "defbuffer1"')))
        spans = [] if end == 0 or end == self._next - 1 else (
            [(self._next, end)] if end >= self._next else [(self._next, self.capacity), (1, end)])
        readings = [self._read(first, last) for first, last in spans]
        if spans:
            self._next = end % self.capacity + 1
        values = np.concatenate(readings) if readings else np.empty(0)
        amps = self._grid.add(values[0::2], values[1::2])
        return amps, np.full(len(amps), self.volts, dtype=np.float32)

    def _read(self, first: int, last: int) -> np.ndarray:
        command = f'TRAC:DATA? {first},{last},"defbuffer1",READ,REL'
        values = self.instrument.query_floats(command, self.binary, datatype="d", big_endian=False,
                                             count=2 * (last - first + 1))
        if len(values) != 2 * (last - first + 1):
            raise MonitorDataError(f"the {self.name} sent {len(values)} values for readings {first}..{last}, "
                                   "not a (reading, time) pair each")
        return values

    def abort(self) -> None:
        self.instrument.write("ABOR")


class _Resampler:
    """Timed readings onto a uniform grid: the current held from one reading to the next, the
    charge integrated, each grid sample the mean current over its interval."""

    def __init__(self, rate_hz: float):
        self.rate_hz = rate_hz
        self.emitted = 0  # grid samples given out
        self._emitted_charge = 0.0  # the charge up to the end of the last of them
        self._last: tuple[float, float, float] | None = None  # (time, current, charge) of the last reading

    def add(self, amps: np.ndarray, times: np.ndarray) -> np.ndarray:
        if not len(amps):
            return np.empty(0, np.float32)
        times, amps = np.asarray(times, np.float64), np.asarray(amps, np.float64)
        if self._last is not None:
            gap = times[0] - self._last[0]
            typical = np.median(np.diff(times)) if len(times) > 1 else gap
            if gap <= 0 or gap > GAP_READINGS * max(typical, 1e-9):
                raise MonitorDataError(
                    f"the SourceMeter's readings jump from {self._last[0]:.6f} s to {times[0]:.6f} s: the buffer "
                    "overwrote readings before they were fetched, so the energy between cannot be known")
            times = np.concatenate([[self._last[0]], times])
            amps = np.concatenate([[self._last[1]], amps])
            start_charge = self._last[2]
        else:
            start_charge = 0.0
        charge = start_charge + np.concatenate([[0.0], np.cumsum(amps[:-1] * np.diff(times))])
        self._last = (float(times[-1]), float(amps[-1]), float(charge[-1]))
        ready = int(times[-1] * self.rate_hz)  # grid samples wholly before the last reading
        if ready <= self.emitted:
            return np.empty(0, np.float32)
        bounds = np.arange(self.emitted, ready + 1) / self.rate_hz
        at_bounds = np.interp(bounds, times, charge)
        at_bounds[0] = self._emitted_charge  # it lay between the readings of an earlier fetch
        self.emitted, self._emitted_charge = ready, float(at_bounds[-1])
        return (np.diff(at_bounds) * self.rate_hz).astype(np.float32)
