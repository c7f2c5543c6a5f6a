"""A message-faithful Otii 3 TCP server on 127.0.0.1 with one Arc, sampling a virtual bench.

It greets with the information message, answers the commands the driver sends (see driver.py
for where each was verified) with the client's documented shapes, and serves the running
recording: main current at 4 kS/s (the bench's energy per sample over the supply voltage and
the interval), main voltage, and GPI1 as the list of level changes of the bench's timestamp pin,
timestamped in seconds from the recording's start.

Fault switches: a progress message before every Nth answer, "Device not connected" after N
data requests (the Arc unplugged), no Automation licence reserved, the server's version (an
Otii 2 server is refused), the connection closed after N data requests (the server gone), noise.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass

import numpy as np

from ..line_server import LineServer

RATE_HZ = 4000
DEVICE = {"device_id": "Arc0000000000000000000000000000000001", "name": "Arc", "type": "Arc"}
VERSION = {"hw_version": "1.1", "fw_version": "1.2.6"}


@dataclass
class Faults:
    progress_every: int = 0  # a progress message before every Nth answer
    unplug_after: int = 0  # data requests after which the Arc is "not connected"
    no_licence: bool = False
    server_version: str = "3.5.5"
    close_after: int = 0  # data requests after which the server drops the connection
    noise_rel: float = 0.001

    @classmethod
    def from_dict(cls, data: dict) -> "Faults":
        return cls(**data)


class OtiiEmulator(LineServer):
    terminator = b"\r\n"
    name = "otii"

    def __init__(self, bench, *, faults: Faults | None = None, seed: int = 0):
        super().__init__()
        self.bench = bench
        self.faults = faults or Faults()
        self._rng = np.random.default_rng(seed)
        self.address = f"127.0.0.1:{self.port}"
        self._answers = 0
        self._data_requests = 0
        self.main_v = 3.3
        self._recording: Recording | None = None
        self._recordings = 0

    # -- the connection ------------------------------------------------------------------------
    def _greet(self, conn: socket.socket) -> None:
        info = {"otii_version": self.faults.server_version, "protocol_version": "0.1", "server": "otii-server"}
        self._send(conn, {"type": "information", "info": "connected", "data": info})

    def _line(self, conn: socket.socket, line: bytes) -> bool:
        request = json.loads(line)
        reply = self._answer(request)
        if reply is None:
            return False  # the close_after fault: the connection drops
        self._answers += 1
        if self.faults.progress_every and self._answers % self.faults.progress_every == 0:
            self._send(conn, {"type": "progress", "cmd": request["cmd"], "trans_id": request.get("trans_id"),
                              "data": {"progress": 50}})
        self._send(conn, reply)
        return True

    @staticmethod
    def _send(conn: socket.socket, message: dict) -> None:
        conn.sendall(json.dumps(message).encode() + b"\r\n")

    # -- commands ------------------------------------------------------------------------------
    def _answer(self, request: dict) -> dict | None:
        cmd, data = request.get("cmd"), request.get("data") or {}
        base = {"cmd": cmd, "trans_id": request.get("trans_id")}
        if "device_id" in data and data["device_id"] != DEVICE["device_id"]:
            return {**base, "type": "error", "errorcode": "Device not connected",
                    "data": {"device_id": data["device_id"]}}
        if cmd.startswith("recording_get_channel_data"):
            self._data_requests += 1
            if self.faults.close_after and self._data_requests > self.faults.close_after:
                return None
            if self.faults.unplug_after and self._data_requests > self.faults.unplug_after:
                return {**base, "type": "error", "errorcode": "Device not connected",
                        "data": {"device_id": DEVICE["device_id"]}}
        handler = getattr(self, "_" + cmd, None)
        if handler is None:
            return {**base, "type": "error", "errorcode": "Invalid command", "data": {}}
        try:
            answer = handler(data)
        except (KeyError, TypeError, ValueError) as exc:
            return {**base, "type": "error", "errorcode": "Command failure", "data": {"message": str(exc)}}
        return {**base, "type": "response", "data": answer or {}}

    def _otii_has_license(self, data):
        return {"has_license": data["license_type"] == "Automation" and not self.faults.no_licence}

    def _otii_get_devices(self, data):
        return {"devices": [DEVICE]}

    def _arc_get_version(self, data):
        return dict(VERSION)

    def _arc_get_channel_samplerate(self, data):
        return {"value": RATE_HZ}

    def _arc_set_main_voltage(self, data):
        volts = float(data["value"])
        if not 0.5 <= volts <= 4.5:
            raise ValueError(f"main voltage {volts} V out of range")
        self.main_v = volts
        self.bench.set_voltage(volts)

    def _arc_set_max_current(self, data):
        if not 0.001 <= float(data["value"]) <= 5:
            raise ValueError("max current out of range")

    def _arc_set_exp_voltage(self, data):
        if not 1.2 <= float(data["value"]) <= 5:
            raise ValueError("expansion port voltage out of range")

    def _arc_enable_exp_port(self, data):
        pass

    def _arc_enable_channel(self, data):
        if data["channel"] not in ("mc", "mv", "i1", "i2", "mp", "ac", "av", "rx"):
            raise ValueError(f"unknown channel {data['channel']}")

    def _arc_set_main(self, data):
        self.bench.set_power(bool(data["enable"]))

    def _otii_get_active_project(self, data):
        return {"project_id": 1}

    def _project_start_recording(self, data):
        self._recordings += 1
        self._recording = Recording(self._recordings, self.bench, self.main_v, self.faults.noise_rel, self._rng)

    def _project_stop_recording(self, data):
        if self._recording:
            self._recording.stop()

    def _project_get_last_recording(self, data):
        if self._recording is None:
            return {"recording_id": -1}
        return {"recording_id": self._recording.id, "name": f"Recording {self._recording.id}"}

    def _recording_get_channel_data_count(self, data):
        return {"count": self._recording_for(data).count(data["channel"])}

    def _recording_get_channel_data(self, data):
        return self._recording_for(data).data(data["channel"], int(data["index"]), int(data["count"]))

    def _recording_for(self, data) -> "Recording":
        if self._recording is None or data["recording_id"] != self._recording.id:
            raise ValueError(f"no recording {data.get('recording_id')}")
        return self._recording


class Recording:
    """The running (or stopped) recording: samples exist up to the bench's horizon."""

    def __init__(self, number: int, bench, main_v: float, noise_rel: float, rng):
        self.id = number
        self.bench = bench
        self.main_v = main_v
        self.noise_rel = noise_rel
        self.rng = rng
        self.start_us = bench.horizon_us()
        self.end_us: float | None = None
        self.interval_us = 1e6 / RATE_HZ
        self.changes: list[dict] = []
        before = bench.pin_events_until(self.start_us)  # before the start: only the level counts
        self.changes.append({"timestamp": 0.0, "value": bool(before[-1][1]) if before else True})
        bench.note({"acquisition_start_us": self.start_us, "rate_hz": RATE_HZ})

    def stop(self) -> None:
        self._take_pin()
        self.end_us = self.bench.horizon_us()

    def _horizon(self) -> float:
        return self.end_us if self.end_us is not None else self.bench.horizon_us()

    def _take_pin(self) -> None:
        if self.end_us is None:
            for t, level in self.bench.pin_events_until(self.bench.horizon_us()):
                self.changes.append({"timestamp": (t - self.start_us) / 1e6, "value": bool(level)})

    def count(self, channel: str) -> int:
        if channel == "i1":
            self._take_pin()
            return len(self.changes)
        return int((self._horizon() - self.start_us) / self.interval_us)

    def data(self, channel: str, index: int, count: int) -> dict:
        if channel == "i1":
            self._take_pin()
            return {"data_type": "digital", "values": self.changes[index:index + count]}
        count = max(0, min(count, self.count(channel) - index))
        if channel == "mv":
            return {"data_type": "analog", "timestamp": index * self.interval_us / 1e6,
                    "interval": self.interval_us / 1e6, "values": [self.bench.supply_v()] * count}
        bounds = self.start_us + (index + np.arange(count + 1)) * self.interval_us
        energy = np.diff(self.bench.energy_at(bounds))
        amps = energy / self.main_v / (self.interval_us * 1e-6)
        amps *= 1 + self.noise_rel * self.rng.standard_normal(count)
        self.bench.forget_before(bounds[-1])  # each span is served once: memory stays flat
        return {"data_type": "analog", "timestamp": index * self.interval_us / 1e6,
                "interval": self.interval_us / 1e6, "values": amps.tolist()}
