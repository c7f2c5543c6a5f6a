"""Qoitech Otii Arc / Ace driver, through the Otii 3 application's or otii_server's TCP server.

The flow is the one Qoitech's client and examples use (verified against
github.com/qoitech/otii-tcp-client-python: otii.py, arc.py, project.py, recording.py and
examples/at_commands.py, jenkins.py, 2025-12): `otii_get_devices`; `arc_set_main_voltage`,
`arc_set_max_current`, `arc_set_exp_voltage` + `arc_enable_exp_port` (the GPIs sit on the
expansion port, at its logic level); `arc_enable_channel` for `mc` (main current), `mv` (main
voltage) and `i1` (GPI1); `project_start_recording`, then `project_get_last_recording` names
the running recording, whose channels are read while it grows
(`recording_get_channel_data_count`, `recording_get_channel_data`: analog data as
`{timestamp, interval, values}`, digital data as a list of `{timestamp, value}` changes).

Timestamps: the DUT's timestamp pin goes to GPI1. Each falling edge's time becomes the index
of the main-current sample it falls in, (t - t0) / interval, so a window is framed exactly as
on the LPM01A: within one sample (250 µs at the Arc's 4 kS/s). Energy is current x the
measured main voltage per sample.
"""

from __future__ import annotations

import queue
import threading

import numpy as np

from ..base import Capabilities, Chunk, Monitor
from ..errors import MonitorDataError, MonitorError, MonitorFirmwareTooOld, MonitorRefused
from .protocol import OtiiConnection, parse_address

RATES_HZ = (4000,)  # the Arc's main-current rate (arc_get_channel_samplerate tells the unit's own)
VOLTAGE_RANGE_MV = (500, 4500)  # Otii Arc main output, 0.5-4.5 V (Qoitech Arc datasheet)
MAX_CURRENT_A = 0.5  # the main output cuts off above this (arc_set_max_current takes 0.001-5 A)
EXP_VOLTAGE_RANGE_V = (1.2, 5.0)  # arc_set_exp_voltage's range (client docstring)
MIN_SERVER = (3, 0)  # the protocol this driver speaks is Otii 3's; Otii 2 servers answer differently
LICENCE = "Automation"  # scripting needs an Automation licence reserved to the logged-in user
_FETCH_MAX = 40_000  # values per data request, as the client's CHUNK_SIZE
_POLL_S = 0.05


class Otii(Monitor):
    capabilities = Capabilities(
        model="Otii",
        can_set_voltage=True,
        voltage_range_mv=VOLTAGE_RANGE_MV,
        can_switch_power=True,
        sample_rates_hz=RATES_HZ,
        output="current_voltage",
        timestamp_input="GPI1 on the expansion port (falling edge)",
    )

    def __init__(self, target: str | None, *, log=None, timeout_s: float = 5.0):
        host, port = parse_address(target)
        self.connection = OtiiConnection(host, port, timeout_s=timeout_s, log=log)
        self.device_id: str | None = None
        self.identity: dict = {}
        self.voltage_mv: int | None = None
        self.rate_hz: float | None = None
        self._recording_id = None
        self._project_id = None
        self._stream_failed = False
        self._chunks: queue.Queue = queue.Queue()
        self._reader: threading.Thread | None = None
        self._halt = threading.Event()

    def _ask(self, cmd: str, **data) -> dict:
        return self.connection.request(cmd, data or None)

    def _device(self, cmd: str, **data) -> dict:
        return self.connection.request(cmd, {"device_id": self.device_id, **data})

    # -- connection ----------------------------------------------------------------------------
    def open(self) -> dict:
        where = self.connection.where
        info = self.connection.connect()
        server = str(info.get("otii_version", "?"))
        if _version(server) < MIN_SERVER:
            raise MonitorFirmwareTooOld(f"the Otii server at {where} is Otii {server}; tiny-runner speaks the Otii 3 "
                                        "protocol (update the Otii application)")
        if not self._ask("otii_has_license", license_type=LICENCE).get("has_license"):
            raise MonitorRefused(f"the Otii server at {where} has no {LICENCE} licence reserved: log in and reserve "
                                 "one in the Otii application (User management), then run again")
        devices = [d for d in self._ask("otii_get_devices", timeout=3).get("devices", [])
                   if d.get("type") in ("Arc", "Ace")]
        if not devices:
            raise MonitorRefused(f"the Otii server at {where} has no Arc or Ace connected")
        device = devices[0]
        self.device_id = device["device_id"]
        version = self._device("arc_get_version")
        self.rate_hz = float(self._device("arc_get_channel_samplerate", channel="mc")["value"])
        self.identity = {"model": f"Otii {device['type']}", "name": device.get("name"), "serial": self.device_id,
                         "firmware": version.get("fw_version"), "hardware": version.get("hw_version"),
                         "server": server, "port": where, "rate_hz": self.rate_hz,
                         **({"other_devices": [d["name"] for d in devices[1:]]} if len(devices) > 1 else {})}
        return self.identity

    def close(self) -> None:
        try:
            self.stop()
        except Exception:  # closing must not hide the error that made us close
            pass
        self.connection.close()

    # -- supply --------------------------------------------------------------------------------
    def set_voltage(self, millivolts: int) -> None:
        low, high = VOLTAGE_RANGE_MV
        if not low <= millivolts <= high:
            raise MonitorRefused(f"the Otii supplies {low}..{high} mV, not {millivolts} mV")
        volts = millivolts / 1000
        self._device("arc_set_main_voltage", value=volts)
        self._device("arc_set_max_current", value=MAX_CURRENT_A)
        # the GPIs read the DUT's logic level, which is its supply
        self._device("arc_set_exp_voltage", value=min(max(volts, EXP_VOLTAGE_RANGE_V[0]), EXP_VOLTAGE_RANGE_V[1]))
        self._device("arc_enable_exp_port", enable=True)
        self.voltage_mv = millivolts

    def power(self, on: bool) -> None:
        self._device("arc_set_main", enable=on)

    # -- acquisition ---------------------------------------------------------------------------
    def start(self, rate_hz: float) -> None:
        if rate_hz != self.rate_hz:
            raise MonitorRefused(f"this Otii samples its main current at {self.rate_hz:g} samples/s, not {rate_hz:g}")
        for channel in ("mc", "mv", "i1"):
            self._device("arc_enable_channel", channel=channel, enable=True)
        project = self._ask("otii_get_active_project").get("project_id", -1)
        if project == -1:
            project = self._ask("otii_create_project")["project_id"]
        self._ask("project_start_recording", project_id=project)
        self._recording_id = self._ask("project_get_last_recording", project_id=project)["recording_id"]
        self._project_id = project
        self._halt.clear()
        self._reader = threading.Thread(target=self._poll, name="otii-reader", daemon=True)
        self._reader.start()

    def stop(self) -> None:
        if self._reader is None:
            return
        self._halt.set()
        self._reader.join(timeout=5)
        self._reader = None
        try:
            self._ask("project_stop_recording", project_id=self._project_id)
        except MonitorError:
            if not self._stream_failed:
                raise
            # the stream already ended on the Otii going away; that error is the one to report

    def _data(self, channel: str, index: int, count: int) -> dict:
        return self._device("recording_get_channel_data", recording_id=self._recording_id, channel=channel,
                            index=index, count=count)

    def _count(self, channel: str) -> int:
        return int(self._device("recording_get_channel_data_count", recording_id=self._recording_id,
                                channel=channel)["count"])

    def _poll(self) -> None:
        """Read what the recording gained since the last look, until stopped."""
        reader = RecordingReader()
        try:
            while not self._halt.wait(_POLL_S):
                self._fetch(reader)
        except Exception as exc:  # the capture reports it; the run stops with what was kept
            self._stream_failed = True
            self._chunks.put(exc if isinstance(exc, MonitorDataError)
                             else MonitorDataError(f"Otii at {self.connection.where}: {exc}"))

    def _fetch(self, reader: "RecordingReader") -> None:
        ready = min(self._count("mc"), self._count("mv"))
        edges = self._count("i1")
        if edges > reader.digital_read:
            reader.add_digital(self._data("i1", reader.digital_read, edges - reader.digital_read)["values"])
        while ready > reader.samples_read:
            count = min(_FETCH_MAX, ready - reader.samples_read)
            current = self._data("mc", reader.samples_read, count)
            voltage = self._data("mv", reader.samples_read, count)
            chunk = reader.add_analog(current, voltage, self.rate_hz)
            if chunk is not None:
                self._chunks.put(chunk)


class RecordingReader:
    """The running recording's channels as Chunks: sample indices count main-current samples
    from the first; each GPI1 falling edge goes out with the chunk holding its sample."""

    def __init__(self):
        self.samples_read = 0
        self.digital_read = 0
        self.t0: float | None = None
        self.interval: float | None = None
        self._level: bool | None = None
        self._falls: list[float] = []  # falling-edge times not yet placed in a delivered chunk

    def add_digital(self, values: list[dict]) -> None:
        for change in values:
            level = bool(change["value"])
            if self._level is True and not level:
                self._falls.append(float(change["timestamp"]))
            self._level = level
        self.digital_read += len(values)

    def add_analog(self, current: dict, voltage: dict, rate_hz: float) -> Chunk | None:
        amps = np.asarray(current["values"], dtype=np.float32)  # the capture's sample type
        volts = np.asarray(voltage["values"], dtype=np.float32)
        if len(amps) != len(volts):
            raise MonitorDataError(f"the Otii sent {len(amps)} current and {len(volts)} voltage samples for one span")
        if self.t0 is None:
            self.t0, self.interval = float(current["timestamp"]), float(current["interval"])
        first = self.samples_read
        self.samples_read += len(amps)
        if not len(amps):
            return None
        placed = [f for f in self._falls if (f - self.t0) / self.interval < self.samples_read]
        self._falls = self._falls[len(placed):]
        edges = [int((f - self.t0) / self.interval) for f in placed if f >= self.t0]  # before t0: not sampled
        return Chunk(first_index=first, rate_hz=rate_hz, current_a=amps, voltage_v=volts, edges=edges)


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts) or (0,)
