"""Keysight N6705 DC power analyzer with an N678xA SMU module: its commands (smu.py does the rest).

Commands, and what each was checked against:
- EEMBC EnergyRunner's N6705B driver (keysight-n6705b.js): `*IDN?` naming the N6705,
  `SYST:CHAN?` and `SYST:CHAN:MOD? (@1,...)` to find the N6781 module, `*RST;*CLS`,
  `EMUL PS2Q` and `FUNC VOLT` (voltage priority), `VOLT:LEV`, `CURR:LIM 0.2`, `OUTP ON|OFF`,
  the logger's functions set for every channel (`...:FUNC:CURR ON`, `...:FUNC:VOLT OFF`) and the
  sample period read back, since the instrument rounds it.
- Public Keysight data-logger scripts (found by code search, 2026-12): the external data log
  `SENS:ELOG:PER`, `SENS:ELOG:FUNC:CURR|VOLT`, `...:MINM`, `SENS:ELOG:CURR:DC:RANG:AUTO`,
  `TRIG:ELOG:SOUR BUS`, `INIT:ELOG`, `TRIG:ELOG`, `FETC:ELOG? <records>,(@ch)` polled while it
  runs, `ABOR:ELOG`; `FORM REAL` + `FORM:BORD NORM` giving big-endian float32 IEEE blocks; a
  record holding the average current then the average voltage when both are logged.
- Not checked against the N6705 programming guide (not available here): the ELOG period's step
  (20.48 µs multiples, shortest 102.4 µs) and `SYST:CHAN:SER?`. A wrong period shows up at
  start as a read-back that is refused; it cannot move an edge.

EnergyRunner issue #24: with two N6781 modules the logger interleaved the other module's
default-on functions, stretching the timeline 1.33-2x and diluting the energy. Every channel's
functions are set explicitly here, and smu.py checks the record count against the elapsed time:
more records than the clock allows stops the run instead of diluting it.
"""

from __future__ import annotations

from ..errors import MonitorDataError, MonitorRefused

MAINFRAMES = ("N6705A", "N6705B", "N6705C")
SMU_MODULES = ("N6781A", "N6782A", "N6785A", "N6786A")  # the modules whose data logger integrates current
PERIOD_STEP_S = 20.48e-6
CURRENT_LIMIT_A = 0.2  # EnergyRunner's limit for the DUT
FETCH_RECORDS = 100_000  # records asked for per poll


class N6705:
    name = "N6705"
    summary = f"the Keysight N6705 ({', '.join(MAINFRAMES)}) with an SMU module"
    rates_hz = (1 / (5 * PERIOD_STEP_S), 1 / (50 * PERIOD_STEP_S))  # 9765.625 and 976.5625 samples/s
    error_query = "SYST:ERR?"
    current_limit_a = CURRENT_LIMIT_A
    timing_uncertainty_s = 0.0  # the log's records follow the trigger on the instrument's own clock
    stretch_reason = ("it logs more than the current and voltage of one channel (the module interleaving of "
                      "EnergyRunner issue #24)")

    @staticmethod
    def drives(model: str) -> bool:
        return model in MAINFRAMES

    def __init__(self, instrument, resource: str, channel: int, binary: bool):
        self.instrument, self.resource, self.channel, self.binary = instrument, resource, channel, binary
        self.at = f"(@{channel})"
        self.channels = 1
        self.acquisition: dict = {}

    def identify(self, maker: str, model: str, serial: str, firmware: str) -> dict:
        instrument = self.instrument
        instrument.write("*RST;*CLS")
        count = int(instrument.query("SYST:CHAN?"))
        if not 1 <= self.channel <= count:
            raise MonitorRefused(f"the {model} at {self.resource} has channels 1..{count}, not {self.channel}")
        self.channels = count
        every = f"(@{','.join(str(c) for c in range(1, count + 1))})"
        modules = [m.strip() for m in instrument.query(f"SYST:CHAN:MOD? {every}").split(",")]
        module = modules[self.channel - 1]
        if module not in SMU_MODULES:
            raise MonitorRefused(f"channel {self.channel} of the {model} at {self.resource} holds an {module}, not "
                                 f"an SMU module ({', '.join(SMU_MODULES)}); pick its channel with ,channel=N")
        identity = {"model": f"Keysight {model} with {module}", "mainframe": model, "serial": serial,
                    "firmware": firmware, "module": module,
                    "module_serial": instrument.query(f"SYST:CHAN:SER? {self.at}"),
                    "channel": self.channel, "modules": modules}
        if len(modules) > 1:
            identity["note"] = ("several modules: the data logger's functions are set for every channel "
                                "(EnergyRunner issue #24)")
        return identity

    def source(self, millivolts: int) -> None:
        for command in (f"EMUL PS2Q,{self.at}", f"FUNC VOLT,{self.at}", f"VOLT {millivolts / 1000:g},{self.at}",
                        f"CURR:LIM {CURRENT_LIMIT_A:g},{self.at}"):
            self.instrument.write(command)

    def read_back_v(self) -> float:
        return float(self.instrument.query(f"VOLT? {self.at}"))

    def output(self, on: bool) -> None:
        self.instrument.write(f"OUTP {'ON' if on else 'OFF'},{self.at}")

    def arm(self, rate_hz: float) -> str:
        """Set up the external data log; the command that starts it."""
        instrument = self.instrument
        instrument.write(f"SENS:ELOG:PER {1 / rate_hz:.9g},{self.at}")
        period = float(instrument.query(f"SENS:ELOG:PER? {self.at}"))
        if abs(period * rate_hz - 1) > 1e-4:
            raise MonitorRefused(f"the N6705 logs every {period * 1e6:g} µs, not {1e6 / rate_hz:g} µs: use a rate of "
                                 f"{', '.join(f'{r:g}' for r in self.rates_hz)} samples/s")
        for channel in range(1, self.channels + 1):  # every channel: see issue #24 above
            on = "ON" if channel == self.channel else "OFF"
            for function in ("CURR", "VOLT"):
                instrument.write(f"SENS:ELOG:FUNC:{function} {on},(@{channel})")
                instrument.write(f"SENS:ELOG:FUNC:{function}:MINM OFF,(@{channel})")
        instrument.write(f"SENS:ELOG:CURR:DC:RANG:AUTO ON,{self.at}")
        instrument.write("FORM REAL;:FORM:BORD NORM" if self.binary else "FORM ASC")
        instrument.write(f"TRIG:ELOG:SOUR BUS,{self.at}")
        instrument.write(f"INIT:ELOG {self.at}")
        self.acquisition = {"data_format": "REAL (IEEE-488.2 float32 blocks)" if self.binary else "ASCII",
                            "sampling": f"data log records of {period * 1e6:g} µs (integrated current)"}
        return f"TRIG:ELOG {self.at}"

    def fetch(self):
        values = self.instrument.query_floats(f"FETC:ELOG? {FETCH_RECORDS},{self.at}", self.binary)
        if len(values) % 2:
            raise MonitorDataError(f"the N6705 sent {len(values)} values: not whole (current, voltage) records")
        return values[0::2], values[1::2]

    def abort(self) -> None:
        self.instrument.write(f"ABOR:ELOG {self.at}")
