"""The MLPerf Tiny run rules (tiny_protocol.md §6.2-6.4) and the iteration calibration.

Performance and energy: exactly 5 windows, one per stimulus (the first 5 files of the label
list), each window at least 10 s long; the score is the median. N per window is chosen here
so a window lands near a target above 10 s, from short probe runs on the DUT's own clock.
"""

from __future__ import annotations

import math

WINDOWS = 5
MIN_WINDOW_S = 10.0
DEFAULT_TARGET_WINDOW_S = 12.0  # aim 20 % above the minimum so timer and input jitter never bite
PROBE_MIN_S = 0.5  # a probe this long pins per-inference latency to < 0.2 % at 1 ms timer resolution
MAX_WINDOW_RETRIES = 2  # a short window is re-run with a larger N at most this many times
# The DUT times a window with a 32-bit microsecond counter that wraps every 4295 s; one wrap is
# unambiguous, so a window must stay well under that.
MAX_WINDOW_S = 3600.0
MAX_INFER_COUNT = 2**31 - 1  # the firmware parses N and W of `infer N W` into signed 32-bit integers
MAX_WARMUP = 1000  # warm-up runs before every probe and window; more only lengthens the run


def next_probe(iterations: int, elapsed_s: float) -> int | None:
    """After a probe of `iterations` inferences took `elapsed_s`, the next probe size, or None
    when this probe was long enough to calibrate from."""
    if elapsed_s >= PROBE_MIN_S:
        return None
    if elapsed_s <= 0:
        return iterations * 100
    return iterations * min(100, math.ceil(1.2 * PROBE_MIN_S / elapsed_s))


def iterations_for(latency_s: float, target_s: float) -> int:
    """Inferences per window so the window lasts at least target_s."""
    return max(1, math.ceil(target_s / latency_s))


def grow_iterations(iterations: int, window_s: float, target_s: float) -> int:
    """A larger N after a window came out short of the minimum."""
    scale = target_s / window_s if window_s > 0 else 100.0
    return max(iterations + 1, math.ceil(iterations * scale))


def infer_timeout_s(expected_s: float, base_s: float = 10.0) -> float:
    """How long the host waits for an `infer` reply: twice the expected time plus a margin."""
    return 2.0 * expected_s + base_s


def window_too_long(iterations: int, warmup: int, latency_s: float) -> str | None:
    """Why a fixed N cannot be run at this latency, or None when it can."""
    seconds = (iterations + warmup) * latency_s
    if seconds <= MAX_WINDOW_S:
        return None
    return (f"{iterations} inferences at {latency_s * 1e3:.4g} ms each would last {seconds:,.0f} s; a window must "
            f"stay under {MAX_WINDOW_S:g} s (the DUT's 32-bit microsecond timer wraps every 4295 s)")


def window_violations(seconds: list[float]) -> list[str]:
    """Every rule the windows break, as sentences; empty when the run is valid."""
    problems = []
    if len(seconds) != WINDOWS:
        problems.append(f"{len(seconds)} windows measured; the rules need exactly {WINDOWS}")
    for i, s in enumerate(seconds, start=1):
        if s < MIN_WINDOW_S:
            problems.append(f"window {i} lasted {s:.3f} s; every window must last at least {MIN_WINDOW_S:g} s")
    return problems
