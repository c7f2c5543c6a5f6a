"""The virtual bench clock.

The DUT's microsecond counter advances by exactly the modelled duration of its activity (UART
bytes, inference, boot), and the lab sleeps duration/speed of wall time so the host sees it
take that long, scaled. While the DUT waits for the host, virtual time passes at wall time x
speed. A timed window is pure activity, so it never depends on the speed or host scheduling;
running late never adds virtual time.

A real-time clock (`realtime=True`, at speed 1) never lets the DUT's time fall behind the wall
clock: lateness is not re-anchored away but taken out of the next wait. The host can then time
the DUT's lines on its own clock, as it must for a monitor with no edge input (an SMU).

A clock with a wait speed of its own (`wait_speed=1`, for a stream: sww01) compresses only the
DUT's work: while it waits for the host, virtual time passes at the wall rate, so the host's
pauses and commands inside a stream's energy window last what they would on a bench. Each
wait then starts and ends a new anchor.

Other devices of the bench (an energy monitor) run in their own threads and ask `horizon_us()`:
how far the bench's virtual time is settled. While the DUT is busy that is the end of what it
has committed to; while it waits it is the wall-clock mapping.
"""

from __future__ import annotations

import threading
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
        realtime: bool = False,
        wait_speed: float | None = None,
    ):
        if not speed > 0:
            raise ValueError("the lab speed factor must be > 0")
        if wait_speed is not None and not 0 < wait_speed <= speed:
            raise ValueError("the lab's wait speed must be > 0 and at most its speed")
        if realtime and speed != 1:
            raise ValueError("a real-time lab clock runs at speed 1")
        self.speed = speed
        self.wait_speed = speed if wait_speed is None else wait_speed
        self.realtime = realtime
        self._us = float(start_us)  # the DUT's counter
        self._wall = wall
        self._sleep = sleep
        self._lock = threading.Lock()
        # virtual(wall) = _anchor_us + (wall - _anchor_wall) x speed while time flows freely
        self._anchor_wall = wall()
        self._anchor_us = float(start_us)
        self._waiting = False
        self.listener: Callable[[float, float, str], None] | None = None  # (start_us, end_us, activity)

    def _mapped(self, wall: float, speed: float | None = None) -> float:
        return self._anchor_us + (wall - self._anchor_wall) * (speed or self.speed) * 1e6

    @property
    def _two_speeds(self) -> bool:
        return self.wait_speed != self.speed

    def now_us(self) -> int:
        return int(self._us + 1e-6)  # a timer counts whole microseconds; ignore float dust below

    def now_exact_us(self) -> float:
        return self._us

    def wait_begin(self) -> None:
        """The DUT blocks for input: from now its timeline is idle until it wakes."""
        with self._lock:
            self._waiting = True
            if self._two_speeds:  # the wait is mapped at its own speed from here
                self._anchor_us, self._anchor_wall = self._us, self._wall()

    def idle(self) -> None:
        """The DUT wakes: the wall time it waited passes at the wait speed x wall rate."""
        with self._lock:
            wall = self._wall()
            mapped = self._mapped(wall, self.wait_speed)
            if mapped > self._us:
                self._us = mapped
            self._waiting = False
            if self._two_speeds:  # the work after it is paced at the lab speed from here
                self._anchor_us, self._anchor_wall = self._us, wall

    def spend(self, us: float, activity: str = "busy") -> None:
        """Busy for exactly `us` virtual microseconds; returns once that much scaled wall time passed."""
        if us <= 0:
            return
        with self._lock:
            start = self._us
            self._us += us
            target_wall = self._anchor_wall + (self._us - self._anchor_us) / 1e6 / self.speed
        if self.listener:
            self.listener(start, start + us, activity)
        now = self._wall()
        if target_wall - now > _MIN_SLEEP_S:
            self._sleep(target_wall - now)
            now = self._wall()
        if now > target_wall + _MIN_SLEEP_S and not self.realtime:
            with self._lock:  # late: re-anchor so the lateness is not virtual time
                self._anchor_us, self._anchor_wall = self._us, now

    def horizon_us(self) -> float:
        """How far the bench's virtual time is settled (for devices sampling the DUT)."""
        with self._lock:
            if self._waiting:
                return self._mapped(self._wall(), self.wait_speed)
            return min(self._mapped(self._wall()), self._us)
