"""A pty in raw mode: what an emulated USB serial device looks like to a host program, and the
thread that serves one."""

from __future__ import annotations

import os
import select
import threading
import tty


class PtyPort:
    """The emulator owns the master side; the host opens `path` (the slave) with pyserial."""

    def __init__(self):
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation: binary data passes untouched
        self.path = os.ttyname(self._slave)  # the slave stays open so the master never sees EIO
        self.url = self.path  # what pyserial opens

    def fileno(self) -> int:
        return self.master

    def read(self, size: int = 65536) -> bytes:
        try:
            return os.read(self.master, size)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view):]

    def close(self) -> None:
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


class PtyInstrument(threading.Thread):
    """An emulated instrument on a pty: takes in the host's bytes and, while it streams,
    produces samples as the bench's time advances (every few milliseconds of wall time)."""

    POLL_S = 0.005

    def __init__(self, name: str):
        super().__init__(name=name, daemon=True)
        self.port = PtyPort()
        self.path = self.port.path
        self.address = self.path  # what the emulated driver opens
        self._halt = threading.Event()

    def streaming(self) -> bool:
        raise NotImplementedError

    def receive(self, data: bytes) -> None:
        raise NotImplementedError

    def produce(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        while not self._halt.is_set():
            ready, _, _ = select.select([self.port], [], [], self.POLL_S)
            if ready:
                data = self.port.read()
                if data:
                    self.receive(data)
            if self.streaming():
                self.produce()

    def shutdown(self) -> None:
        self._halt.set()
        self.join(timeout=2)
        self.port.close()
