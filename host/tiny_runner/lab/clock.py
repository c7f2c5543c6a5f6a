"""The virtual DUT's microsecond clock.

Deterministic activity (UART bytes, inference) advances virtual time by exactly its modelled
duration, and the lab sleeps duration/speed of wall time so the host sees it take that long,
scaled. Idle time waiting for the host advances virtual time by wall time x speed. So a timed
window (pure activity) is exact and never depends on the speed factor or on host scheduling.
"""

from __future__ import annotations

import time
from typing import Callable

# Sleeps shorter than this are deferred and merged with the next one (sleep overhead is ~0.1 ms).
_MIN_SLEEP_S = 0.0005


class VirtualClock:
    def __init__(
        self,
        speed: float,
        start_us: int = 0,
        *,
        wall: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not speed > 0:
            raise ValueError("the lab speed factor must be > 0")
        self.speed = speed
        self._us = float(start_us)
        self._wall = wall
        self._sleep = sleep
        self._anchor = wall()  # wall time that corresponds to self._us

    def now_us(self) -> int:
        return int(self._us + 1e-6)  # a timer counts whole microseconds; ignore float dust below

    def idle(self) -> None:
        """Account for wall time spent waiting (for the host): it passes at speed x wall rate."""
        now = self._wall()
        if now > self._anchor:
            self._us += (now - self._anchor) * self.speed * 1e6
            self._anchor = now

    def spend(self, us: float) -> None:
        """Busy for exactly `us` virtual microseconds; returns once that much scaled wall time passed."""
        if us <= 0:
            return
        self._us += us
        target = self._anchor + us / 1e6 / self.speed
        now = self._wall()
        if target - now > _MIN_SLEEP_S:
            self._sleep(target - now)
        # Running late (host busy, slow sleep) never adds virtual time: only the model does.
        self._anchor = max(target, now)
