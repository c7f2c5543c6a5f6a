"""Performance mode (tiny_protocol.md §6.2): windows timed by the DUT's own m-lap-us timer;
the score is the median throughput."""

from __future__ import annotations

from .. import rules
from .windows import Timed, WindowedRun


class PerformanceRun(WindowedRun):
    mode = "performance"

    def timed(self, iterations: int, warmup: int, timeout_s: float) -> Timed:
        reply = self.dut.infer(iterations, warmup, timeout_s)
        return Timed(reply.elapsed_us / 1e6, reply)

    def record(self, index: int, name: str, data: bytes, iterations: int, timed: Timed, attempts: list) -> dict:
        reply, seconds = timed.reply, timed.seconds
        return {
            "index": index,
            "input": name,
            "inferences": iterations,
            "warmup": self.req.warmup,
            "lap_us": list(reply.lap_us),
            "elapsed_us": reply.elapsed_us,
            "seconds": seconds,
            "throughput_inf_per_s": iterations / seconds if seconds > 0 else None,
            "latency_ms": seconds * 1e3 / iterations,
            "meets_min_window": seconds >= rules.MIN_WINDOW_S,
            "attempts": attempts,
            "results": reply.results,
        }
