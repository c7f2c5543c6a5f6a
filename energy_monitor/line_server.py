"""A loopback TCP server for an emulated instrument that speaks in lines (SCPI over a raw
socket, the Otii's JSON lines): what a host program reaches over the network, and the thread
that serves it, one connection at a time."""

from __future__ import annotations

import socket
import threading


class LineServer:
    """Subclasses set `terminator` and `name`, and answer each line in `_line(conn, line)`,
    which returns False to drop the connection (an instrument gone); `_greet` speaks first."""

    terminator = b"\n"
    name = "instrument"

    def __init__(self):
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name=f"{self.name}-emulator", daemon=True)
        self._stop = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def shutdown(self) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(timeout=2)

    def _greet(self, conn: socket.socket) -> None:
        pass

    def _line(self, conn: socket.socket, line: bytes) -> bool:
        raise NotImplementedError

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                self._talk(conn)

    def _talk(self, conn: socket.socket) -> None:
        self._greet(conn)
        pending = b""
        while not self._stop.is_set():
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            pending += data
            while self.terminator in pending:
                line, pending = pending.split(self.terminator, 1)
                if self._line(conn, line) is False:
                    return
