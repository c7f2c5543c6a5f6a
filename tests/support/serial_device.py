"""A scripted serial device on a pty, for testing the host side byte for byte.

The script is a list of (expected bytes from the host, reply bytes). The device checks each
command arrives exactly as expected and records everything it received.
"""

from __future__ import annotations

import os
import threading
import tty


class ScriptedDevice:
    def __init__(self, script: list[tuple[bytes, bytes]]):
        self.script = list(script)
        self.received = bytearray()
        self.mismatch: str | None = None
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.url = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> "ScriptedDevice":
        self._thread.start()
        return self

    def send(self, data: bytes) -> None:
        os.write(self._master, data)

    def _serve(self) -> None:
        import select

        pending = bytearray()
        for expected, reply in self.script:
            while len(pending) < len(expected):
                ready, _, _ = select.select([self._master], [], [], 0.05)
                if self._stop.is_set():
                    return
                if ready:
                    data = os.read(self._master, 4096)
                    self.received += data
                    pending += data
            got = bytes(pending[: len(expected)])
            del pending[: len(expected)]
            if got != expected:
                self.mismatch = f"expected {expected!r}, got {got!r}"
                return
            if reply:
                os.write(self._master, reply)
        # after the script: keep recording whatever arrives
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if ready:
                self.received += os.read(self._master, 4096)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            os.close(fd)

    def __enter__(self) -> "ScriptedDevice":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
