"""Joulescope driver at the pyjoulescope_driver.Driver boundary (energy_monitors.md §2.4-2.6).

The Driver is a publish/subscribe API over string topics. This driver sets the output rate
(`h/fs` = 1 MS/s, the JS220's highest), the current range (auto = DUT powered through the meter,
off = path open), enables current, voltage and GPI0, and subscribes to their `!data` topics.
Messages are dicts: `sample_id` in 2 MHz units, `decimate_factor`, and `data` (float32 for
current and voltage; GPI packed 8 samples per byte, LSB first).

Timestamp edges are found in the GPI bits as streamed at 1 MS/s, never after any further
decimation, and placed in the output sample that holds them. Current and voltage are paired by sample_id;
energy is I x V x dt per sample. Gaps in sample_id and NaN samples (the driver's mark for
lost data) are reported as dropped. The JS110 has no separate GPI channel: its IN0 replaces
the current LSB (`s/i/lsb_src` = 2), and the driver still delivers it on the GPI0 topic.
Neither model can source the DUT: the voltage is measured, never set.
"""

from __future__ import annotations

import queue
import threading

import numpy as np

from ..base import Capabilities, Chunk, Monitor
from ..errors import MonitorDataError, MonitorNotResponding, MonitorRefused

SAMPLE_ID_HZ = 2_000_000
# Always the full output rate: below it the instrument thins the GPI stream too and a short
# timestamp pulse can vanish. Slower views of the data are the host's business.
RATES_HZ = (1_000_000,)
EXTRA = "joulescope"


def _real_driver():
    try:
        from pyjoulescope_driver import Driver
    except ImportError:
        raise MonitorNotResponding(
            f"the Joulescope needs its driver package: pip install 'tiny-runner[{EXTRA}]' "
            "(pyjoulescope_driver)"
        ) from None
    return Driver()


class Joulescope(Monitor):
    def __init__(self, serial: str | None = None, *, driver=None, log=None):
        self.serial = serial
        self._driver = driver
        self._own_driver = driver is None
        self.log = log or (lambda direction, text: None)
        self.path: str | None = None
        self.model = "JS220"
        self.capabilities = self._capabilities()
        self.identity: dict = {}
        self._chunks: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self.rate_hz: float | None = None
        self._decimate = 2
        self._origin: int | None = None  # sample_id of output sample 0
        self._i: tuple[int, np.ndarray] | None = None  # (first sample_id, values) waiting for a partner
        self._v: tuple[int, np.ndarray] | None = None
        self._next_output = 0
        self._gpi_level = 1
        self._gpi_end: int | None = None  # sample_id up to which GPI data has arrived
        self._edges: list[int] = []
        self._streaming = False

    def _capabilities(self) -> Capabilities:
        return Capabilities(model=self.model, can_set_voltage=False, voltage_range_mv=None, can_switch_power=True,
                            sample_rates_hz=RATES_HZ, output="current_voltage", timestamp_input="GPI0 (falling edge)")

    # -- connection ----------------------------------------------------------------------------
    def open(self) -> dict:
        if self._driver is None:
            self._driver = _real_driver()
        paths = [p for p in self._driver.device_paths() if "/js2" in p or "/js1" in p]
        if self.serial:
            paths = [p for p in paths if p.rsplit("/", 1)[-1].lstrip("0") == self.serial.lstrip("0")]
        if not paths:
            wanted = f" with serial {self.serial}" if self.serial else ""
            raise MonitorNotResponding(f"no Joulescope{wanted} found (check the USB cable and that no other "
                                       "program, such as the Joulescope UI, holds it)")
        if len(paths) > 1:
            raise MonitorRefused(f"several Joulescopes are attached ({', '.join(paths)}): "
                                 "name one with --monitor joulescope:SERIAL")
        self.path = paths[0]
        self.model = self.path.split("/")[1].upper()
        self.capabilities = self._capabilities()
        self.log(">", f"open {self.path}")
        self._driver.open(self.path, "defaults")
        self.identity = {"model": self.model, "serial": self.path.rsplit("/", 1)[-1], "path": self.path}
        return self.identity

    def close(self) -> None:
        if self._driver is None:
            return
        try:
            if self._streaming:
                self.stop()
            if self.path:
                self._driver.close(self.path)
        finally:
            if self._own_driver:
                self._driver.finalize()
            self._driver = None

    def _publish(self, topic: str, value) -> None:
        self.log(">", f"{topic} = {value}")
        self._driver.publish(f"{self.path}/{topic}", value)

    # -- supply --------------------------------------------------------------------------------
    def set_voltage(self, millivolts: int) -> None:
        raise MonitorRefused(f"the {self.model} cannot set the DUT supply: it measures an external supply "
                             "(its measured voltage is recorded)")

    def power(self, on: bool) -> None:
        """The meter powers the DUT by closing its current path (range auto) or opening it (off)."""
        if self.model == "JS110":
            self._publish("s/i/range/select", "auto" if on else "off")
        else:
            self._publish("s/i/range/mode", "auto" if on else "off")

    # -- streaming -----------------------------------------------------------------------------
    def start(self, rate_hz: float) -> None:
        if rate_hz not in RATES_HZ:
            raise MonitorRefused(f"the {self.model} streams at {', '.join(map(str, RATES_HZ))} samples/s, "
                                 f"not {rate_hz:g}")
        self.rate_hz = float(rate_hz)
        self._decimate = SAMPLE_ID_HZ // int(rate_hz)
        self._publish("h/fs", int(rate_hz))
        if self.model == "JS110":
            self._publish("s/i/lsb_src", 2)  # IN0 replaces the current LSB
        for topic in ("s/i/!data", "s/v/!data", "s/gpi/0/!data"):
            self._driver.subscribe(f"{self.path}/{topic}", ["pub"], self._on_data)
        self._streaming = True
        for topic in ("s/i/ctrl", "s/v/ctrl", "s/gpi/0/ctrl"):
            self._publish(topic, 1)

    def stop(self) -> None:
        if not self._streaming:
            return
        for topic in ("s/i/ctrl", "s/v/ctrl", "s/gpi/0/ctrl"):
            self._publish(topic, 0)
        self._driver.unsubscribe_all(self._on_data)
        self._streaming = False


    # -- the driver's thread -------------------------------------------------------------------
    def _on_data(self, topic: str, value: dict) -> None:
        try:
            with self._lock:
                if topic.endswith("/s/gpi/0/!data"):
                    self._take_gpi(value)
                    self._pair()
                else:
                    data = np.asarray(value["data"], dtype=np.float32)
                    sid = int(value["sample_id"])
                    if int(value["decimate_factor"]) != self._decimate:
                        raise MonitorDataError(f"{topic}: decimate factor {value['decimate_factor']}, "
                                               f"expected {self._decimate}")
                    if self._origin is None:
                        self._origin = sid
                    if topic.endswith("/s/i/!data"):
                        self._i = self._append(self._i, sid, data)
                    else:
                        self._v = self._append(self._v, sid, data)
                    self._pair()
        except MonitorDataError as exc:
            self._chunks.put(exc)

    def _append(self, held, sid: int, data: np.ndarray):
        if held is None:
            return sid, data
        first, values = held
        expected = first + len(values) * self._decimate
        if sid > expected:  # samples never came: NaN marks them, as the driver itself does
            gap = (sid - expected) // self._decimate
            values = np.concatenate([values, np.full(gap, np.nan, np.float32)])
        elif sid < expected:
            data = data[(expected - sid) // self._decimate:]
        return first, np.concatenate([values, data])

    def _pair(self) -> None:
        """Emit the samples for which current, voltage and GPI have all arrived, so that every
        edge reaches the chunk holding its sample."""
        if self._i is None or self._v is None or self._gpi_end is None:
            return
        (fi, iv), (fv, vv) = self._i, self._v
        start = max(fi, fv)
        end = min(fi + len(iv) * self._decimate, fv + len(vv) * self._decimate, self._gpi_end)
        end = start + (end - start) // self._decimate * self._decimate
        if end <= start:
            return
        amps = iv[(start - fi) // self._decimate:(end - fi) // self._decimate]
        volts = vv[(start - fv) // self._decimate:(end - fv) // self._decimate]
        self._i = (end, iv[(end - fi) // self._decimate:])
        self._v = (end, vv[(end - fv) // self._decimate:])
        first = (start - self._origin) // self._decimate
        # NaN marks lost samples: leave them out, so a chunk holds only measured samples and the
        # next one says how many were lost before it
        valid = ~(np.isnan(amps) | np.isnan(volts))
        bounds = np.flatnonzero(np.diff(np.concatenate([[0], valid.view(np.int8), [0]])))
        for run_start, run_end in zip(bounds[0::2], bounds[1::2]):
            self._emit(first + int(run_start), amps[run_start:run_end], volts[run_start:run_end])

    def _emit(self, first: int, amps: np.ndarray, volts: np.ndarray) -> None:
        dropped = max(first - self._next_output, 0)
        self._next_output = first + len(amps)
        edges = [e for e in self._edges if e < self._next_output]
        self._edges = [e for e in self._edges if e >= self._next_output]
        self._chunks.put(Chunk(first_index=first, rate_hz=self.rate_hz, current_a=amps, voltage_v=volts,
                               edges=edges, dropped=dropped))

    def _take_gpi(self, value: dict) -> None:
        """Falling edges at the GPI's streamed rate (no further decimation), placed in the output
        sample holding them."""
        bits = np.unpackbits(np.asarray(value["data"], dtype=np.uint8), bitorder="little").astype(np.int8)
        step = int(value["decimate_factor"])
        previous = np.concatenate([[self._gpi_level], bits[:-1]])
        falling = np.flatnonzero((previous == 1) & (bits == 0))
        if len(bits):
            self._gpi_level = int(bits[-1])
            self._gpi_end = int(value["sample_id"]) + len(bits) * step
        if self._origin is None:
            return  # before the first current sample: nothing to place it in
        for k in falling:
            sid = int(value["sample_id"]) + int(k) * step
            if sid >= self._origin:
                self._edges.append((sid - self._origin) // self._decimate)
