"""Performance mode (tiny_protocol.md §6.2): windows timed by the DUT's own m-lap-us timer;
the score is the median throughput."""

from __future__ import annotations

from ..record import PerformanceWindow
from .windows import Timed, WindowedRun


class PerformanceRun(WindowedRun):
    mode = "performance"

    def timed(self, iterations: int, warmup: int, timeout_s: float) -> Timed:
        reply = self.dut.infer(iterations, warmup, timeout_s)
        return Timed(reply.elapsed_us / 1e6, reply)

    def record(self, index: int, name: str, data: bytes, iterations: int, timed: Timed,
               attempts: list) -> PerformanceWindow:
        reply = timed.reply
        return PerformanceWindow(index=index, input=name, inferences=iterations, warmup=self.req.warmup,
                                 lap_us=list(reply.lap_us), elapsed_us=reply.elapsed_us, seconds=timed.seconds,
                                 attempts=attempts, results=reply.results)
