"""Progress for long work, on stderr: a live line on a terminal, a line every few seconds otherwise."""

from __future__ import annotations

import sys
import time

_TTY_INTERVAL_S = 0.2
_LOG_INTERVAL_S = 10.0


class Progress:
    def __init__(self, enabled: bool = True, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0
        self._live = False
        self._start = time.monotonic()

    def start(self, title: str) -> None:
        self._start = time.monotonic()
        self._last = 0.0
        self.message(title)

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        self._clear()
        print(text, file=self.stream, flush=True)

    def update(self, done: int, total: int, note: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        interval = _TTY_INTERVAL_S if self.tty else _LOG_INTERVAL_S
        if now - self._last < interval and done < total:
            return
        self._last = now
        elapsed = now - self._start
        eta = f", {_duration(elapsed / done * (total - done))} left" if 0 < done < total else ""
        text = f"  {done}/{total}{eta}{'  ' + note if note else ''}"
        if self.tty:
            print(f"\r\x1b[K{text}", end="", file=self.stream, flush=True)
            self._live = True
        else:
            print(text, file=self.stream, flush=True)

    def _clear(self) -> None:
        if self._live:
            print("\r\x1b[K", end="", file=self.stream, flush=True)
            self._live = False

    def done(self) -> None:
        self._clear()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
