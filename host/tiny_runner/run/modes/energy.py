"""Energy mode (tiny_protocol.md §6.3): the DUT, behind a pass-through board and powered by
the energy monitor, marks each timed region with two GPIO pulses; the monitor's capture gives
the window's time and energy. Score: the median µJ per inference."""

from __future__ import annotations

from ...analysis.energy import EnergyWindow, frame_window
from .windows import Timed, WindowedRun

EDGE_WAIT_S = 5.0  # wall time for the two edges to come through the monitor's stream (lag is < 1 s)


class EnergyRun(WindowedRun):
    mode = "energy"

    def run(self) -> None:
        self.context.capture.settle()  # edges from before (boot pulse, probes) must not count
        super().run()

    def timed(self, iterations: int, warmup: int, timeout_s: float) -> Timed:
        capture = self.context.capture
        before = capture.edge_count()
        reply = self.dut.infer(iterations, warmup, timeout_s, expect_timestamps=False)
        capture.wait(lambda c: len(c.edges) >= before + 2, EDGE_WAIT_S)
        capture.settle(wall_s=0.05, device_s=0.05)  # a spurious extra edge would arrive now
        new = capture.edges_since(before)
        dropped = capture.dropped_between(new[0].index, new[-1].index) if len(new) >= 2 else 0
        window = frame_window(EnergyWindow(0, "", iterations, warmup, [], capture.rate_hz), new, dropped)
        hint = (f"check the timestamp wire from the DUT's GPIO through the level shifter to the monitor's "
                f"{capture.monitor.capabilities.timestamp_input}")
        problem = "; ".join(window.problems + ([hint] if len(new) < 2 else [])) or None
        return Timed(window.seconds if len(new) >= 2 else None, reply, {"window": window, "problem": problem})

    def record(self, index: int, name: str, data: bytes, iterations: int, timed: Timed,
               attempts: list) -> EnergyWindow:
        window: EnergyWindow = timed.details["window"]
        window.index, window.input = index, name
        for problem in window.problems:
            self.log(f"window {index}: {problem}")
        window.attempts, window.results = attempts, timed.reply.results
        return window
