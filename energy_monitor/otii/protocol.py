"""The Otii 3 TCP server's protocol: UTF-8 JSON objects, one per line, ended by CR LF.

Verified against Qoitech's MIT client (github.com/qoitech/otii-tcp-client-python,
otii_connection.py and otii_exception.py, 2025-12): on connect the server pushes
`{"type": "information", "info": "connected", "data": {"otii_version", "protocol_version"}}`;
a request is `{"type": "request", "cmd": NAME, "data": {...}, "trans_id": "N"}`; the answer
carries the same trans_id, as `{"type": "response", ..., "data": {...}}` or `{"type": "error",
"errorcode": TEXT, "data": {...}}`; `progress` messages may come in between and are skipped.
"""

from __future__ import annotations

import json
import socket
import threading
import time

from ..errors import MonitorDataError, MonitorNotResponding, MonitorRefused

DEFAULT_ADDRESS = ("127.0.0.1", 1905)


def parse_address(target: str | None) -> tuple[str, int]:
    """`HOST:PORT`, `HOST` or None (the server's default) -> (host, port)."""
    if not target:
        return DEFAULT_ADDRESS
    host, sep, port = target.rpartition(":")
    if not sep:
        return target, DEFAULT_ADDRESS[1]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise MonitorRefused(f"Otii server address {target!r}: expected HOST:PORT")
    return host or DEFAULT_ADDRESS[0], int(port)


class OtiiConnection:
    """One TCP connection to the server; requests may come from several threads, one at a time."""

    def __init__(self, host: str, port: int, *, timeout_s: float = 5.0, log=None):
        self.where = f"{host}:{port}"
        self._address = (host, port)
        self.timeout_s = timeout_s
        self.log = log or (lambda direction, text: None)
        self._sock: socket.socket | None = None
        self._pending = b""
        self._lock = threading.Lock()
        self._next_id = 0

    def connect(self) -> dict:
        """Connect and return the server's information message."""
        try:
            self._sock = socket.create_connection(self._address, timeout=self.timeout_s)
        except OSError as exc:
            raise MonitorNotResponding(f"cannot reach the Otii server at {self.where}: {exc.strerror or exc}; start "
                                       "the Otii 3 application or otii_server (its TCP server on)") from None
        message = self._receive(lambda m: m.get("type") == "information", "its greeting")
        return message.get("data") or {}

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def request(self, cmd: str, data: dict | None = None, timeout_s: float | None = None) -> dict:
        """Send one request; its response's data, or MonitorRefused naming the server's error."""
        with self._lock:
            if self._sock is None:
                raise MonitorNotResponding(f"the Otii server at {self.where} is not connected")
            self._next_id += 1
            trans_id = str(self._next_id)
            message = {"type": "request", "cmd": cmd, "trans_id": trans_id}
            if data is not None:
                message["data"] = data
            text = json.dumps(message)
            self.log(">", text)
            try:
                self._sock.sendall(text.encode() + b"\r\n")
            except OSError as exc:
                raise MonitorDataError(f"the Otii server at {self.where} went away: {exc}") from None
            reply = self._receive(lambda m: m.get("trans_id") == trans_id and m.get("type") in ("response", "error"),
                                  repr(cmd), timeout_s)
        if reply["type"] == "error":
            raise MonitorRefused(f"Otii server at {self.where} refused {cmd}: {reply.get('errorcode', '?')}"
                                 f"{_detail(reply.get('data'))}")
        return reply.get("data") or {}

    def _receive(self, wanted, what: str, timeout_s: float | None = None) -> dict:
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while True:
            line, sep, rest = self._pending.partition(b"\r\n")
            if sep:
                self._pending = rest
                message = self._decode(line)
                if message is not None and wanted(message):
                    return message
                continue  # progress, information or a stale answer
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MonitorNotResponding(f"the Otii server at {self.where} did not answer {what} within "
                                           f"{timeout_s or self.timeout_s:g} s")
            self._sock.settimeout(remaining)
            try:
                data = self._sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError as exc:
                raise MonitorDataError(f"the Otii server at {self.where} went away: {exc}") from None
            if not data:
                raise MonitorDataError(f"the Otii server at {self.where} closed the connection")
            self._pending += data

    def _decode(self, line: bytes) -> dict | None:
        text = line.decode("utf-8", errors="replace")
        try:
            message = json.loads(text)
        except json.JSONDecodeError:
            self.log("<", text[:200])
            raise MonitorDataError(f"the Otii server at {self.where} sent a line that is not JSON: "
                                   f"{text[:80]!r}") from None
        if not isinstance(message, dict):
            raise MonitorDataError(f"the Otii server at {self.where} sent {text[:80]!r}, not a JSON object")
        if message.get("cmd") != "recording_get_channel_data":  # sample data would swamp the wire log
            self.log("<", text[:500])
        return message


def _detail(data) -> str:
    if isinstance(data, dict) and data:
        return " (" + ", ".join(f"{key} {value}" for key, value in data.items()) + ")"
    return ""
