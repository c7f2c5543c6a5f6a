"""Keysight N6705 DC power analyzer with an N678xA SMU module, as a source-measure energy monitor.

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

Timestamps: an SMU has no input that marks an edge in its samples. The log is started by a bus
trigger whose instant the host brackets (the write of `TRIG:ELOG` to the answer of the
`SYST:ERR?` sent with it), so a host instant maps to a sample index (`index_at`), and the runner
places each edge from when the DUT's line came in (run/modes/energy.py). The uncertainty is half
that round trip plus LINE_LATENCY_S for the lines' own path to the host.

EnergyRunner issue #24: with two N6781 modules the logger interleaved the other module's
default-on functions, stretching the timeline 1.33-2x and diluting the energy. Every channel's
functions are set explicitly here, and the record count is checked against the elapsed time:
more records than the clock allows stops the run instead of diluting it.
"""

from __future__ import annotations

import queue
import threading
import time

from ..base import Capabilities, Chunk, Monitor
from ..errors import MonitorDataError, MonitorError, MonitorRefused
from .visa import Instrument, parse_target

MAINFRAMES = ("N6705A", "N6705B", "N6705C")
SMU_MODULES = ("N6781A", "N6782A", "N6785A", "N6786A")  # the modules whose data logger integrates current
PERIOD_STEP_S = 20.48e-6
RATES_HZ = (1 / (5 * PERIOD_STEP_S), 1 / (50 * PERIOD_STEP_S))  # 9765.625 and 976.5625 samples/s
VOLTAGE_RANGE_MV = (0, 20_000)  # the N6781A's 20 V range
CURRENT_LIMIT_A = 0.2  # EnergyRunner's limit for the DUT
LINE_LATENCY_S = 0.002  # a DUT line's path to the host past its wire time: USB frames, scheduling
FETCH_RECORDS = 100_000  # records asked for per poll
POLL_S = 0.05
STRETCH_LIMIT = 1.05  # records per elapsed second at most this much above the rate (plus a poll's worth)


class KeysightSmu(Monitor):
    capabilities = Capabilities(
        model="Keysight N6705 SMU",
        can_set_voltage=True,
        voltage_range_mv=VOLTAGE_RANGE_MV,
        can_switch_power=True,
        sample_rates_hz=RATES_HZ,
        output="current_voltage",
        timestamp_input="none (the host times the DUT's m-infer-start / m-infer-done lines)",
        edges="host",
    )

    def __init__(self, target: str | None, *, log=None, binary: bool = True, timeout_s: float = 5.0):
        self.resource, self.channel = parse_target(target)
        self._log = log or (lambda direction, text: None)
        self.binary = binary
        self.timeout_s = timeout_s
        self.instrument: Instrument | None = None
        self.identity: dict = {}
        self.rate_hz: float | None = None
        self.edge_uncertainty_s = LINE_LATENCY_S
        self._trigger_at: float | None = None
        self._chunks: queue.Queue = queue.Queue()
        self._reader: threading.Thread | None = None
        self._halt = threading.Event()
        self._stream_failed = False
        self._channels = 1
        self._all = "(@1)"

    @property
    def _at(self) -> str:
        return f"(@{self.channel})"

    # -- connection ----------------------------------------------------------------------------
    def open(self) -> dict:
        if self.resource is None:
            self.resource = _first_found()
        self.instrument = Instrument(self.resource, timeout_s=self.timeout_s, log=self._log)
        maker, model, serial, firmware = _idn(self.instrument.query("*IDN?"), self.resource)
        if model not in MAINFRAMES:
            raise MonitorRefused(f"{self.resource} is a {maker} {model}; tiny-runner drives the Keysight N6705 "
                                 f"({', '.join(MAINFRAMES)}) with an SMU module")
        self.instrument.write("*RST;*CLS")
        count = int(self.instrument.query("SYST:CHAN?"))
        if not 1 <= self.channel <= count:
            raise MonitorRefused(f"the {model} at {self.resource} has channels 1..{count}, not {self.channel}")
        self._channels = count
        self._all = f"(@{','.join(str(c) for c in range(1, count + 1))})"
        modules = [m.strip() for m in self.instrument.query(f"SYST:CHAN:MOD? {self._all}").split(",")]
        module = modules[self.channel - 1]
        if module not in SMU_MODULES:
            raise MonitorRefused(f"channel {self.channel} of the {model} at {self.resource} holds an {module}, not "
                                 f"an SMU module ({', '.join(SMU_MODULES)}); pick its channel with ,channel=N")
        module_serial = self.instrument.query(f"SYST:CHAN:SER? {self._at}")
        self._check_errors("identifying it")
        self.identity = {"model": f"Keysight {model} with {module}", "mainframe": model, "serial": serial,
                         "firmware": firmware, "module": module, "module_serial": module_serial,
                         "channel": self.channel, "modules": modules, "port": self.resource,
                         "edges": "placed by the host from the DUT's lines"}
        if len(modules) > 1:
            self.identity["note"] = ("several modules: the data logger's functions are set for every channel "
                                     "(EnergyRunner issue #24)")
        return self.identity

    def close(self) -> None:
        try:
            self.stop()
        except Exception:  # closing must not hide the error that made us close
            pass
        if self.instrument:
            self.instrument.close()

    def _check_errors(self, doing: str) -> None:
        """Empty the SCPI error queue; any error there refuses the run, naming it."""
        errors = []
        for _ in range(20):
            reply = self.instrument.query("SYST:ERR?")
            code = reply.split(",", 1)[0].strip()
            if code.lstrip("+-").isdigit() and int(code) == 0:
                break
            errors.append(reply)
        if errors:
            raise MonitorRefused(f"the N6705 at {self.resource} reported {'; '.join(errors)} while {doing}")

    # -- supply --------------------------------------------------------------------------------
    def set_voltage(self, millivolts: int) -> None:
        low, high = VOLTAGE_RANGE_MV
        if not low < millivolts <= high:
            raise MonitorRefused(f"the {self.identity.get('module', 'SMU')} supplies {low}..{high} mV, "
                                 f"not {millivolts} mV")
        for command in (f"EMUL PS2Q,{self._at}", f"FUNC VOLT,{self._at}", f"VOLT {millivolts / 1000:g},{self._at}",
                        f"CURR:LIM {CURRENT_LIMIT_A:g},{self._at}"):
            self.instrument.write(command)
        self._check_errors(f"setting {millivolts} mV with a {CURRENT_LIMIT_A:g} A limit")
        self.identity["voltage_read_back_v"] = float(self.instrument.query(f"VOLT? {self._at}"))
        self.identity["current_limit_a"] = CURRENT_LIMIT_A

    def power(self, on: bool) -> None:
        self.instrument.write(f"OUTP {'ON' if on else 'OFF'},{self._at}")
        self._check_errors(f"switching the output {'on' if on else 'off'}")

    # -- acquisition ---------------------------------------------------------------------------
    def start(self, rate_hz: float) -> None:
        instrument = self.instrument
        instrument.write(f"SENS:ELOG:PER {1 / rate_hz:.9g},{self._at}")
        period = float(instrument.query(f"SENS:ELOG:PER? {self._at}"))
        if abs(period * rate_hz - 1) > 1e-4:
            raise MonitorRefused(f"the N6705 logs every {period * 1e6:g} µs, not {1e6 / rate_hz:g} µs: use a rate of "
                                 f"{', '.join(f'{r:g}' for r in RATES_HZ)} samples/s")
        for channel in range(1, self._channels + 1):  # every channel: see issue #24 above
            on = "ON" if channel == self.channel else "OFF"
            for function in ("CURR", "VOLT"):
                instrument.write(f"SENS:ELOG:FUNC:{function} {on},(@{channel})")
                instrument.write(f"SENS:ELOG:FUNC:{function}:MINM OFF,(@{channel})")
        instrument.write(f"SENS:ELOG:CURR:DC:RANG:AUTO ON,{self._at}")
        instrument.write("FORM REAL;:FORM:BORD NORM" if self.binary else "FORM ASC")
        instrument.write(f"TRIG:ELOG:SOUR BUS,{self._at}")
        instrument.write(f"INIT:ELOG {self._at}")
        self._check_errors("setting up the data log")
        self.rate_hz = rate_hz
        before = time.monotonic()
        reply = instrument.query(f"TRIG:ELOG {self._at};:SYST:ERR?")
        after = time.monotonic()
        if not reply.split(",", 1)[0].strip().lstrip("+-") == "0":
            raise MonitorRefused(f"the N6705 at {self.resource} refused to start its data log: {reply}")
        self._trigger_at = (before + after) / 2
        self.edge_uncertainty_s = (after - before) / 2 + LINE_LATENCY_S
        self.identity.update(rate_hz=rate_hz, edge_uncertainty_s=round(self.edge_uncertainty_s, 6),
                             data_format="REAL (IEEE-488.2 float32 blocks)" if self.binary else "ASCII")
        self._halt.clear()
        self._reader = threading.Thread(target=self._poll, name="scpi-reader", daemon=True)
        self._reader.start()

    def index_at(self, host_time_s: float) -> float:
        return (host_time_s - self._trigger_at) * self.rate_hz

    def stop(self) -> None:
        if self._reader is None:
            return
        self._halt.set()
        self._reader.join(timeout=5)
        self._reader = None
        try:
            self.instrument.write(f"ABOR:ELOG {self._at}")
        except MonitorError:
            if not self._stream_failed:
                raise
            # the stream already ended on the instrument going away; that error is the one to report

    def _poll(self) -> None:
        received = 0
        try:
            while not self._halt.wait(POLL_S):
                values = self.instrument.query_floats(f"FETC:ELOG? {FETCH_RECORDS},{self._at}", self.binary)
                if len(values) % 2:
                    raise MonitorDataError(f"the N6705 sent {len(values)} values: not whole (current, voltage) records")
                current, voltage = values[0::2], values[1::2]
                if len(current):
                    self._chunks.put(Chunk(first_index=received, rate_hz=self.rate_hz, current_a=current,
                                           voltage_v=voltage))
                received += len(current)
                self._check_timeline(received)
        except Exception as exc:  # the capture reports it; the run stops with what was kept
            self._stream_failed = True
            self._chunks.put(exc if isinstance(exc, MonitorDataError) else MonitorDataError(
                f"{exc}" if isinstance(exc, MonitorError) else f"N6705 at {self.resource}: {exc}"))

    def _check_timeline(self, received: int) -> None:
        elapsed = time.monotonic() - self._trigger_at
        allowed = elapsed * self.rate_hz * STRETCH_LIMIT + self.rate_hz * (POLL_S + 0.5)
        if received > allowed:
            raise MonitorDataError(
                f"the N6705 logged {received} records in {elapsed:.2f} s at {self.rate_hz:g} per second: it logs "
                "more than the current and voltage of one channel (the module interleaving of EnergyRunner "
                "issue #24), so its timeline cannot be trusted")


def _idn(reply: str, resource: str) -> tuple[str, str, str, str]:
    parts = [p.strip() for p in reply.split(",")]
    if len(parts) != 4:
        raise MonitorRefused(f"{resource} answered *IDN? with {reply[:80]!r}, not maker,model,serial,firmware")
    return parts[0], parts[1], parts[2], parts[3]


def _first_found() -> str:
    from .plugin import scan

    found, note = scan()
    if not found:
        raise MonitorRefused("no Keysight N6705 found through VISA" + (f" ({note})" if note else "")
                             + "; name it: --monitor scpi:VISA_RESOURCE")
    return found[0].path
