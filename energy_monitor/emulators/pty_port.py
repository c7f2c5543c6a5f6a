"""A pty in raw mode: what an emulated USB serial device looks like to a host program."""

from __future__ import annotations

import os
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
