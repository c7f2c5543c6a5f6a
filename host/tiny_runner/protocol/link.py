"""The transport to a device: any pyserial URL, line framing, deadlines, and the wire log.

The URL picks the transport as pyserial does: `/dev/ttyACM0`, `COM3`, `socket://host:port`,
`rfc2217://host:port`, `loop://`, `spy://...`. The link knows nothing about the DUT protocol;
it moves bytes, splits lines on LF (dropping one trailing CR), and records both directions.
"""

from __future__ import annotations

import re
import time
from collections import deque

import serial

from ..errors import PortError
from .wirelog import FROM_DEVICE, TO_DEVICE, WireLog

# How long one blocking read waits before the link checks its deadline again (deadline resolution).
_POLL_S = 0.05


class Link:
    def __init__(self, url: str, baud: int, wire_log: WireLog | None = None):
        self.url = url
        self.baud = baud
        self.wire_log = wire_log
        self._pending = bytearray()
        self._taken = 0  # bytes received before _pending[0]
        self._arrivals: deque[tuple[int, float]] = deque()  # (bytes received up to the end of a read, when)
        self.line_arrived: float | None = None  # time.monotonic() the last line read_line returned came in
        try:
            self._port = _open(url, baud)
        except (serial.SerialException, ValueError, OSError) as exc:
            reason = _open_reason(exc, url)
            if "exclusively lock" in reason:
                reason = "it is in use by another program (another tiny-runner run?)"
            raise PortError(f"cannot open port {url}: {reason}") from None
        if wire_log:
            wire_log.note(f"opened {url} at {baud} baud")

    # -- writing -------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        if self.wire_log:
            self.wire_log.record(TO_DEVICE, data)
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"write to {self.url} failed: {_reason(exc)}") from None

    # -- reading -------------------------------------------------------------------------
    def _fill(self, block: bool) -> bool:
        """Take in what is available; if block, wait up to one poll period for a first byte."""
        try:
            waiting = self._port.in_waiting
            if not waiting and not block:
                return False
            data = self._port.read(waiting or 1)
            if data and self._port.in_waiting:
                data += self._port.read(self._port.in_waiting)
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"read from {self.url} failed: {_reason(exc)}") from None
        if not data:
            return False
        arrived = time.monotonic()
        if self.wire_log:
            self.wire_log.record(FROM_DEVICE, data)
        self._pending += data
        self._arrivals.append((self._taken + len(self._pending), arrived))
        return True

    def _consume(self, count: int) -> None:
        """Forget the first count pending bytes; line_arrived becomes when the last of them came."""
        last = self._taken + count - 1
        while self._arrivals and self._arrivals[0][0] <= last:
            self._arrivals.popleft()
        if count:
            self.line_arrived = self._arrivals[0][1] if self._arrivals else None
        del self._pending[:count]
        self._taken += count

    def read_line(self, deadline: float) -> str | None:
        """The next line (without CR LF), or None if the deadline (time.monotonic) passed first."""
        while True:
            newline = self._pending.find(b"\n")
            if newline >= 0:
                raw = bytes(self._pending[:newline])
                self._consume(newline + 1)
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
                return raw.decode("latin-1")
            if time.monotonic() >= deadline:
                return None
            self._fill(block=True)

    def drain(self, quiet_s: float = 0.0) -> bytes:
        """Everything received and not yet read, waiting until the line is quiet for quiet_s."""
        while self._fill(block=False):
            pass
        if quiet_s > 0:
            quiet_since = time.monotonic()
            while time.monotonic() - quiet_since < quiet_s:
                if self._fill(block=True):
                    quiet_since = time.monotonic()
        data = bytes(self._pending)
        self._consume(len(data))
        return data

    def partial(self) -> bytes:
        """Bytes received after the last complete line (for error messages)."""
        return bytes(self._pending)

    def close(self) -> None:
        try:
            self._port.close()
        except (serial.SerialException, OSError):
            pass
        if self.wire_log:
            self.wire_log.note(f"closed {self.url}")

    def __enter__(self) -> "Link":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open(url: str, baud: int) -> serial.SerialBase:
    """exclusive: a second run on a port in use stops here instead of stealing the first run's
    bytes. pyserial's rfc2217:// has no write timeout (it cleans up and refuses at open): its
    writes go to a socket, which does not block on a stalled UART, so it opens without one."""
    try:
        return serial.serial_for_url(url, baudrate=baud, timeout=_POLL_S, write_timeout=10, exclusive=True)
    except NotImplementedError:
        return serial.serial_for_url(url, baudrate=baud, timeout=_POLL_S, exclusive=True)


def _open_reason(exc: BaseException, url: str) -> str:
    """pyserial says "[Errno 2] could not open port X: [Errno 2] No such file ..."; keep the cause."""
    own_words = re.compile(rf"^(\[Errno -?\d+\] )?could not open port '?{re.escape(url)}'?: ", re.IGNORECASE)
    return own_words.sub("", _reason(exc))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
