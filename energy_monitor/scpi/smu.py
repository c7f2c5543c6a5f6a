"""A SCPI source-measure unit as an energy monitor: what every SMU family shares.

The instrument is opened through VISA (visa.py) and told apart by its `*IDN?` answer; a family
module (keysight.py, keithley.py) knows that model's commands. Shared here: the error queue
emptied after every step (any error refuses the run, naming it), the supply's range and its
read-back, the acquisition started by a bus command whose instant the host brackets, a reader
thread that polls the instrument's buffer, and the check that the samples' timeline is no
longer than the wall clock allows.

Timestamps: an SMU has no input that marks an edge in its samples. The acquisition is started
by a command whose round trip the host times (the command sent with `SYST:ERR?` in one message,
so its answer comes once the command has been executed), so a host instant maps to a sample
index (`index_at`), and the runner places each edge from when the DUT's line came in
(run/modes/energy.py). The uncertainty is half that round trip, LINE_LATENCY_S for the lines'
own path to the host, and what the family adds (the Keithley's reading interval).
"""

from __future__ import annotations

import queue
import threading
import time

from ..base import Capabilities, Chunk, Monitor
from ..errors import MonitorDataError, MonitorError, MonitorRefused
from .keithley import KeithleySmu
from .keysight import N6705
from .visa import Instrument, parse_target

FAMILIES = (N6705, KeithleySmu)
RATES_HZ = N6705.rates_hz  # the Keithley resamples its readings onto the same grid (keithley.py)
VOLTAGE_RANGE_MV = (0, 20_000)  # the 20 V range both families have
LINE_LATENCY_S = 0.002  # a DUT line's path to the host past its wire time: USB frames, scheduling
POLL_S = 0.05
STRETCH_LIMIT = 1.05  # samples per elapsed second at most this much above the rate (plus a poll's worth)


class ScpiSmu(Monitor):
    capabilities = Capabilities(
        model="SCPI SMU",
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
        self.family = None
        self.identity: dict = {}
        self.rate_hz: float | None = None
        self.edge_uncertainty_s = LINE_LATENCY_S
        self._trigger_at: float | None = None
        self._chunks: queue.Queue = queue.Queue()
        self._reader: threading.Thread | None = None
        self._halt = threading.Event()
        self._stream_failed = False

    @property
    def name(self) -> str:
        return self.family.name if self.family else "SCPI instrument"

    # -- connection ----------------------------------------------------------------------------
    def open(self) -> dict:
        if self.resource is None:
            self.resource = _first_found()
        self.instrument = Instrument(self.resource, timeout_s=self.timeout_s, log=self._log)
        maker, model, serial, firmware = _idn(self.instrument.query("*IDN?"), self.resource)
        family = next((f for f in FAMILIES if f.drives(model)), None)
        if family is None:
            raise MonitorRefused(f"{self.resource} is a {maker} {model}; tiny-runner drives "
                                 + " and ".join(f.summary for f in FAMILIES))
        self.family = family(self.instrument, self.resource, self.channel, self.binary)
        self.identity = self.family.identify(maker, model, serial, firmware)
        self._check_errors("identifying it")
        self.identity.update(port=self.resource, edges="placed by the host from the DUT's lines")
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
            reply = self.instrument.query(self.family.error_query)
            if _error_code(reply) == 0:
                break
            errors.append(reply)
        if errors:
            raise MonitorRefused(f"the {self.name} at {self.resource} reported {'; '.join(errors)} while {doing}")

    # -- supply --------------------------------------------------------------------------------
    def set_voltage(self, millivolts: int) -> None:
        low, high = VOLTAGE_RANGE_MV
        if not low < millivolts <= high:
            raise MonitorRefused(f"the {self.name} supplies {low}..{high} mV here, not {millivolts} mV")
        self.family.source(millivolts)
        self._check_errors(f"setting {millivolts} mV with a {self.family.current_limit_a:g} A limit")
        self.identity["voltage_read_back_v"] = self.family.read_back_v()
        self.identity["current_limit_a"] = self.family.current_limit_a

    def power(self, on: bool) -> None:
        self.family.output(on)
        self._check_errors(f"switching the output {'on' if on else 'off'}")

    # -- acquisition ---------------------------------------------------------------------------
    def start(self, rate_hz: float) -> None:
        trigger = self.family.arm(rate_hz)
        self._check_errors("setting up the acquisition")
        self.rate_hz = rate_hz
        before = time.monotonic()
        reply = self.instrument.query(f"{trigger};:{self.family.error_query}")
        after = time.monotonic()
        if _error_code(reply) != 0:
            raise MonitorRefused(f"the {self.name} at {self.resource} refused to start its acquisition: {reply}")
        self._trigger_at = (before + after) / 2
        self.edge_uncertainty_s = (after - before) / 2 + LINE_LATENCY_S + self.family.timing_uncertainty_s
        self.identity.update(rate_hz=rate_hz, edge_uncertainty_s=round(self.edge_uncertainty_s, 6),
                             **self.family.acquisition)
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
            self.family.abort()
        except MonitorError:
            if not self._stream_failed:
                raise
            # the stream already ended on the instrument going away; that error is the one to report

    def _poll(self) -> None:
        received = 0
        try:
            while not self._halt.wait(POLL_S):
                current, voltage = self.family.fetch()
                if len(current):
                    self._chunks.put(Chunk(first_index=received, rate_hz=self.rate_hz, current_a=current,
                                           voltage_v=voltage))
                received += len(current)
                self._check_timeline(received)
        except Exception as exc:  # the capture reports it; the run stops with what was kept
            self._stream_failed = True
            self._chunks.put(exc if isinstance(exc, MonitorDataError) else MonitorDataError(
                f"{exc}" if isinstance(exc, MonitorError) else f"{self.name} at {self.resource}: {exc}"))

    def _check_timeline(self, received: int) -> None:
        elapsed = time.monotonic() - self._trigger_at
        allowed = elapsed * self.rate_hz * STRETCH_LIMIT + self.rate_hz * (POLL_S + 0.5)
        if received > allowed:
            raise MonitorDataError(
                f"the {self.name} logged {received} samples in {elapsed:.2f} s at {self.rate_hz:g} per second: "
                f"{self.family.stretch_reason}, so its timeline cannot be trusted")


def _idn(reply: str, resource: str) -> tuple[str, str, str, str]:
    parts = [p.strip() for p in reply.split(",")]
    if len(parts) != 4:
        raise MonitorRefused(f"{resource} answered *IDN? with {reply[:80]!r}, not maker,model,serial,firmware")
    return parts[0], parts[1], parts[2], parts[3]


def _error_code(reply: str) -> int | None:
    """The number before the comma of an error-queue answer (`+0,"No error"`, `0,"No error;0;0 0"`)."""
    code = reply.split(",", 1)[0].strip()
    return int(code) if code.lstrip("+-").isdigit() else None


def _first_found() -> str:
    from .plugin import scan

    found, note = scan()
    if not found:
        raise MonitorRefused("no SCPI SMU found through VISA" + (f" ({note})" if note else "")
                             + "; name it: --monitor scpi:VISA_RESOURCE")
    return found[0].path
