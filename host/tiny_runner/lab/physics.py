"""The virtual bench's physics: the DUT's supply current over virtual time, its timestamp pin,
and the exact energy it drew (the ground truth an energy measurement is checked against).

The DUT's current is piecewise constant: one level per activity (boot, idle, UART, compute)
from the board profile, and for a streaming DUT (sww01) listening (asleep with its audio DMA
running) and processing (a frame's features and inference) from [simulation.sww]; a DUT at rest
draws its resting activity's current (idle, or listening while it streams). Power = current x
the supply voltage the monitor sets; zero while the monitor keeps the DUT off. The timeline is
kept as breakpoints with the cumulative energy at each, so the energy between any two instants
is exact, and every falling edge of the timestamp pin is recorded with the cumulative energy at
that instant.
"""

from __future__ import annotations

import bisect
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ACTIVITIES = ("boot", "idle", "uart", "compute")
STREAM_ACTIVITIES = ("listening", "processing")


@dataclass(frozen=True)
class PowerProfile:
    """DUT supply current per activity, in amperes."""

    boot_a: float
    idle_a: float
    uart_a: float
    compute_a: float  # running the model, or the busy loop that holds the timestamp pin low
    listening_a: float | None = None  # streaming: None when the board models no streaming
    processing_a: float | None = None

    @classmethod
    def from_ma(cls, power_ma: dict, sww_ma: dict | None = None) -> "PowerProfile":
        """From a board's [simulation.power] table (boot_ma, idle_ma, uart_ma, compute_ma) and,
        for a streaming DUT, its [simulation.sww] table (listening_ma, processing_ma)."""
        stream = {f"{name}_a": sww_ma[f"{name}_ma"] / 1e3 for name in STREAM_ACTIVITIES} if sww_ma else {}
        return cls(*(power_ma[f"{name}_ma"] / 1e3 for name in ACTIVITIES), **stream)

    def current(self, activity: str) -> float:
        if activity in STREAM_ACTIVITIES:
            amps = getattr(self, f"{activity}_a")
            if amps is None:  # never guessed: the energy of a stream would be silently wrong
                raise ValueError(f"the power profile has no {activity} current ([simulation.sww] {activity}_ma)")
            return amps
        return {"boot": self.boot_a, "idle": self.idle_a, "uart": self.uart_a}.get(activity, self.compute_a)


class Physics:
    def __init__(self, profile: PowerProfile, clock, truth_path: Path | None = None):
        self.profile = profile
        self.clock = clock
        self.voltage_v = 3.3
        self.powered = False
        self.resting = "idle"  # what the DUT does between its busy spans
        self._lock = threading.Lock()
        # breakpoints: power _p[k] (W) holds from _t[k] (us) to _t[k+1]; the last one is open-ended
        self._t = [clock.now_exact_us()]
        self._p = [0.0]
        self._c = [0.0]  # cumulative energy (J) at _t[k]
        self._pin_level = 1
        self._pin_events: list[tuple[float, int]] = []  # (time, new level) not yet handed to a monitor
        self._truth = open(truth_path, "a", encoding="utf-8") if truth_path else None

    # -- building the timeline -----------------------------------------------------------------
    def _breakpoint(self, t_us: float, power_w: float) -> None:
        """From t_us on the power is power_w (t_us never before the last breakpoint)."""
        last_t = self._t[-1]
        t_us = max(t_us, last_t)
        cumulative = self._c[-1] + self._p[-1] * (t_us - last_t) * 1e-6
        if t_us == last_t:
            self._p[-1] = power_w
            return
        self._t.append(t_us)
        self._p.append(power_w)
        self._c.append(cumulative)

    def _idle_power(self) -> float:
        return self.profile.current(self.resting) * self.voltage_v if self.powered else 0.0

    def activity(self, start_us: float, end_us: float, activity: str) -> None:
        """The DUT is busy with `activity` over [start, end); idle afterwards until told otherwise."""
        if not self.powered:
            return
        with self._lock:
            self._breakpoint(start_us, self.profile.current(activity) * self.voltage_v)
            self._breakpoint(end_us, self._idle_power())

    def level(self, t_us: float, activity: str) -> None:
        """From t_us on the DUT does `activity` until told otherwise: for a DUT that reports
        its own changes (the C firmware under QEMU) rather than spans of known length."""
        with self._lock:
            if self.powered:
                self._breakpoint(t_us, self.profile.current(activity) * self.voltage_v)

    def rest(self, activity: str, t_us: float) -> None:
        """From t_us the DUT rests as `activity` between busy spans (a streaming DUT listens)."""
        self.profile.current(activity)  # an activity the profile lacks fails here, not in a span
        with self._lock:
            self.resting = activity
            self._breakpoint(t_us, self._idle_power())

    def set_power(self, on: bool, t_us: float) -> None:
        with self._lock:
            self.powered = on
            self.resting = "idle"  # a DUT powered up again starts from reset
            self._breakpoint(t_us, self._idle_power())

    def set_voltage(self, volts: float, t_us: float) -> None:
        with self._lock:
            self.voltage_v = volts
            if self.powered:
                self._breakpoint(t_us, self._idle_power())

    def pin(self, level: int, t_us: float) -> None:
        """The timestamp pin; a falling edge is what a monitor's timestamp input catches."""
        with self._lock:
            if self.powered and level != self._pin_level:
                self._pin_events.append((t_us, level))
            if self.powered and level == 0 and self._pin_level == 1:
                if self._truth:
                    energy = self._energy_at(np.array([t_us]))[0]
                    self._truth.write(json.dumps({"edge_us": t_us, "energy_j": energy}) + "\n")
                    self._truth.flush()
            self._pin_level = level

    def note(self, record: dict) -> None:
        """Something a test or the runner may want to line up with the truth (an acquisition start)."""
        if self._truth:
            with self._lock:
                self._truth.write(json.dumps(record) + "\n")
                self._truth.flush()

    # -- reading it ----------------------------------------------------------------------------
    def _energy_at(self, times_us: np.ndarray) -> np.ndarray:
        t = np.asarray(self._t)
        k = np.searchsorted(t, times_us, side="right") - 1
        k = np.clip(k, 0, len(t) - 1)
        return np.asarray(self._c)[k] + np.asarray(self._p)[k] * (times_us - t[k]) * 1e-6

    def energy_at(self, times_us: np.ndarray) -> np.ndarray:
        """Cumulative energy (J) at each time; times must not lie beyond the clock's horizon."""
        with self._lock:
            return self._energy_at(np.asarray(times_us, dtype=np.float64))

    def pin_events_until(self, t_us: float) -> list[tuple[float, int]]:
        """Pin changes (time, new level) up to t_us not handed out before: for the one monitor
        wired to the timestamp pin. The pin idles high."""
        with self._lock:
            cut = bisect.bisect_right(self._pin_events, (t_us, 2))
            events, self._pin_events = self._pin_events[:cut], self._pin_events[cut:]
            return events

    def falling_edges_until(self, t_us: float) -> list[float]:
        """Falling edges up to t_us (an LPM01A's D7 event input sees only these)."""
        return [t for t, level in self.pin_events_until(t_us) if level == 0]

    def forget_before(self, t_us: float) -> None:
        """Drop breakpoints wholly before t_us: memory stays bounded on long captures."""
        with self._lock:
            cut = bisect.bisect_right(self._t, t_us) - 1
            if cut > 0:
                del self._t[:cut], self._p[:cut], self._c[:cut]

    def close(self) -> None:
        if self._truth:
            self._truth.close()
