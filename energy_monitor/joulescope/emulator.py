"""A Joulescope at the pyjoulescope_driver.Driver boundary, fed by a virtual bench.

Two halves joined by a local TCP socket (standing in for the USB cable, since the bench runs
in its own process): `JoulescopeEmulator` runs beside the bench and produces the instrument's
data; `FakeDriver` runs in the host process and offers the Driver's methods (device_paths,
open, close, publish, query, subscribe, unsubscribe, unsubscribe_all, publish_and_wait,
finalize), calling subscribers from its own thread with dicts shaped as the real driver's:
sample_id in 2 MHz units, decimate_factor, sample_rate, utc, field_id, index, and `data`
(float32 current/voltage; GPI bits packed LSB first), about 20 messages a second.

Wire format on the socket: 4-byte little-endian length, a JSON header, then (for data) the raw
array bytes. The bench is anything with horizon_us(), energy_at(times_us), supply_v() (the
external supply's voltage, 0 when off), pin_events_until(t_us), set_power(on), note(record),
forget_before(t_us).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time

import numpy as np

_LEN = struct.Struct("<I")
SAMPLE_ID_HZ = 2_000_000
MESSAGE_PERIOD_S = 0.05  # the real driver publishes about 20 times a second


def _send(sock: socket.socket, header: dict, payload: bytes = b"") -> None:
    body = json.dumps(header).encode()
    sock.sendall(_LEN.pack(len(body)) + body + _LEN.pack(len(payload)) + payload)


def _receive(sock: socket.socket) -> tuple[dict, bytes] | None:
    def exactly(n: int) -> bytes | None:
        data = bytearray()
        while len(data) < n:
            part = sock.recv(n - len(data))
            if not part:
                return None
            data += part
        return bytes(data)

    size = exactly(_LEN.size)
    if size is None:
        return None
    header = json.loads(exactly(_LEN.unpack(size)[0]))
    payload = exactly(_LEN.unpack(exactly(_LEN.size))[0])
    return header, payload


class JoulescopeEmulator(threading.Thread):
    """The instrument side: one JS220 (or JS110) in series with the bench's external supply."""

    def __init__(self, bench, *, model: str = "js220", serial: str = "000001", seed: int = 0,
                 noise_rel: float = 0.001, drop_every: int = 0):
        super().__init__(name="joulescope-emulator", daemon=True)
        self.bench = bench
        self.path = f"u/{model}/{serial}"
        self.noise_rel = noise_rel
        self.drop_every = drop_every  # messages between two lost ones (USB trouble)
        self._rng = np.random.default_rng(seed)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp://127.0.0.1:{self._server.getsockname()[1]}"
        self.address = self.url  # what FakeDriver connects to
        self._halt = threading.Event()
        self._topics: dict = {"h/fs": 1_000_000, "s/i/range/mode": "auto", "s/i/range/select": "auto"}
        self._conn: socket.socket | None = None
        self._start_us: float | None = None
        self._produced = 0  # output samples sent so far
        self._level = 1
        self._messages = 0

    def run(self) -> None:
        self._server.settimeout(0.2)
        while not self._halt.is_set():
            try:
                self._conn, _ = self._server.accept()
            except socket.timeout:
                continue
            self._conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _send(self._conn, {"type": "hello", "device_paths": [self.path], "retained": self._topics})
            reader = threading.Thread(target=self._read_commands, daemon=True)
            reader.start()
            while not self._halt.is_set() and reader.is_alive():
                time.sleep(MESSAGE_PERIOD_S)
                if self._streaming():
                    self._produce()
            self._conn.close()

    def shutdown(self) -> None:
        self._halt.set()
        self.join(timeout=2)
        self._server.close()

    def _read_commands(self) -> None:
        while True:
            try:
                message = _receive(self._conn)
            except OSError:
                return
            if message is None:
                return
            header, _ = message
            topic = header["topic"].split("/", 3)[-1]  # drop the device prefix
            self._topics[topic] = header["value"]
            if topic in ("s/i/range/mode", "s/i/range/select"):
                self.bench.set_power(header["value"] != "off")

    def _streaming(self) -> bool:
        on = any(self._topics.get(t) == 1 for t in ("s/i/ctrl", "s/v/ctrl", "s/gpi/0/ctrl"))
        if on and self._start_us is None:
            self._start_us = self.bench.horizon_us()
            for _, level in self.bench.pin_events_until(self._start_us):
                self._level = level
            self.bench.note({"acquisition_start_us": self._start_us, "rate_hz": self._topics["h/fs"]})
        if not on:
            self._start_us = None
        return on

    def _produce(self) -> None:
        fs = int(self._topics["h/fs"])
        decimate = SAMPLE_ID_HZ // fs
        period_us = 1e6 / fs
        available = int((self.bench.horizon_us() - self._start_us) / period_us)
        count = (available - self._produced) // 8 * 8  # GPI bits travel packed, whole bytes only
        if count <= 0:
            return
        first = self._produced
        bounds = self._start_us + (first + np.arange(count + 1)) * period_us
        energy = np.diff(self.bench.energy_at(bounds))
        supply = self.bench.supply_v()
        amps = energy / max(supply, 1e-9) / (period_us * 1e-6)
        noise = self._rng.standard_normal((2, count))
        amps = (amps * (1 + self.noise_rel * noise[0])).astype(np.float32)
        volts = (supply * (1 + self.noise_rel * noise[1])).astype(np.float32)
        levels = np.full(count, self._level, dtype=np.uint8)
        mids = bounds[:-1] + period_us / 2
        for t, level in self.bench.pin_events_until(bounds[-1] - period_us / 2):
            levels[np.searchsorted(mids, t):] = level
            self._level = level
        self._produced += count
        self.bench.forget_before(bounds[-1])
        self._messages += 1
        if self.drop_every and self._messages % self.drop_every == 0:
            return  # lost on the way: the host sees a jump in sample_id
        sample_id = 4_000_000 + first * decimate  # the counter does not start at 0 on a real unit
        base = {"sample_id": sample_id, "decimate_factor": decimate, "sample_rate": SAMPLE_ID_HZ,
                "utc": int(time.time() * 2**30)}
        for field, index, data in ((1, 0, amps), (2, 0, volts)):
            suffix = "i" if field == 1 else "v"
            _send(self._conn, {"type": "data", "topic": f"{self.path}/s/{suffix}/!data", "dtype": "<f4",
                               "value": dict(base, field_id=field, index=index)}, data.astype("<f4").tobytes())
        packed = np.packbits(levels, bitorder="little")
        _send(self._conn, {"type": "data", "topic": f"{self.path}/s/gpi/0/!data", "dtype": "u1",
                           "value": dict(base, field_id=5, index=0)}, packed.tobytes())


class FakeDriver:
    """pyjoulescope_driver.Driver's methods, served by a JoulescopeEmulator over TCP."""

    def __init__(self, url: str):
        host, port = url.removeprefix("tcp://").rsplit(":", 1)
        self._sock = socket.create_connection((host, int(port)), timeout=10)
        self._sock.settimeout(None)
        hello, _ = _receive(self._sock)
        self._paths = hello["device_paths"]
        self._retained = {f"{self._paths[0]}/{k}": v for k, v in hello["retained"].items()}
        self._subscribers: list[tuple[str, object]] = []
        self._lock = threading.Lock()
        self._open: set[str] = set()
        self.log_level = "warning"
        self._thread = threading.Thread(target=self._receive_loop, name="fake-jsdrv", daemon=True)
        self._thread.start()

    def device_paths(self, timeout=None) -> list[str]:
        return list(self._paths)

    def open(self, device_prefix, mode=None, timeout=None) -> None:
        if device_prefix not in self._paths:
            raise RuntimeError(f"open failed: {device_prefix} not found")
        self._open.add(device_prefix)

    def close(self, device_prefix, timeout=None) -> None:
        self._open.discard(device_prefix)

    def publish(self, topic, value, timeout=None) -> None:
        if not any(topic.startswith(p) for p in self._open):
            raise RuntimeError(f"publish failed: {topic}: device not open")
        self._retained[topic] = value
        _send(self._sock, {"type": "publish", "topic": topic, "value": value})

    def query(self, topic, timeout=None):
        return self._retained[topic]

    def subscribe(self, topic, flags, fn, timeout=None) -> None:
        with self._lock:
            self._subscribers.append((topic, fn))

    def unsubscribe(self, topic, fn, timeout=None) -> None:
        with self._lock:
            self._subscribers = [(t, f) for t, f in self._subscribers if not (t == topic and f == fn)]

    def unsubscribe_all(self, fn, timeout=None) -> None:
        with self._lock:
            self._subscribers = [(t, f) for t, f in self._subscribers if f != fn]

    def publish_and_wait(self, publish_topic, publish_value, response_topic, timeout=None):
        raise TimeoutError(f"no response on {response_topic}")

    def finalize(self, timeout=None) -> None:
        try:
            self._sock.close()
        except OSError:
            pass

    def _receive_loop(self) -> None:
        while True:
            try:
                message = _receive(self._sock)
            except OSError:
                return
            if message is None:
                return
            header, payload = message
            value = dict(header["value"])
            value["data"] = np.frombuffer(payload, dtype=header["dtype"])
            with self._lock:
                targets = [fn for topic, fn in self._subscribers if topic == header["topic"]]
            for fn in targets:
                fn(header["topic"], value)
