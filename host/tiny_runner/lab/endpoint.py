"""Where a virtual device meets the host besides a pty (energy_monitor.pty_port): a
TCP socket (`socket://HOST:PORT`), and the UART that paces bytes at the configured baud on the
virtual clock. 8N1 framing: 10 bit times per byte.
"""

from __future__ import annotations

import socket

from .clock import VirtualClock

BITS_PER_BYTE = 10  # start + 8 data + stop


class TcpEndpoint:
    """One client at a time on host:port (port 0 picks a free one)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._server = socket.create_server((host, port))
        self.port = self._server.getsockname()[1]
        self.url = f"socket://{host}:{self.port}"
        self._conn: socket.socket | None = None

    def fileno(self) -> int:
        return self._conn.fileno() if self._conn else self._server.fileno()

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def accept(self) -> None:
        self._conn, _ = self._server.accept()
        self._conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def read(self) -> bytes:
        data = self._conn.recv(4096) if self._conn else b""
        if not data and self._conn:
            self._conn.close()
            self._conn = None
        return data

    def write(self, data: bytes) -> None:
        if self._conn:
            try:
                self._conn.sendall(data)
            except OSError:
                pass  # the host hung up; a real UART would just keep sending into the void

    def close(self) -> None:
        if self._conn:
            self._conn.close()
        self._server.close()


class PacedUart:
    """Bytes leave at baud/10 per virtual second: a write is delivered once its wire time has
    passed, as the last byte of a real UART's, so a host that times lines sees them when it would."""

    def __init__(self, endpoint, baud: int, clock: VirtualClock):
        self.endpoint = endpoint
        self.baud = baud
        self.clock = clock

    def byte_time_us(self, count: int) -> float:
        return count * BITS_PER_BYTE * 1e6 / self.baud

    def write(self, data: bytes) -> None:
        self.clock.spend(self.byte_time_us(len(data)), "uart")
        self.endpoint.write(data)

    def received(self, count: int) -> None:
        """Incoming bytes also took their wire time to arrive before the firmware sees them."""
        self.clock.spend(self.byte_time_us(count), "uart")
