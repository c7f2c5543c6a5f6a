"""Energy mode (tiny_protocol.md §6.3): the DUT, behind a pass-through board and powered by
the energy monitor, marks each timed region with two GPIO pulses; the monitor's capture gives
the window's time and energy. Score: the median µJ per inference.

A monitor with no edge input (an SMU) has its edges placed from the host's clock: the DUT prints
`m-infer-start-N` just before the first pulse and `m-infer-done` just after the second, so the
first edge is when the start line came in and the second when the done line came in less its
wire time at the DUT's baud and the pin's hold (the board's `timestamp.hold_us`: the done line
follows the pulse's rising edge, and the edge that counts is the falling one). What that cannot
know (the pass-through board's forwarding, USB and scheduling latency, the alignment of the two
clocks) is the monitor's edge_uncertainty_s, and the energy of that span at each edge is the
window's stated quantisation."""

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
        if capture.monitor.capabilities.edges == "host":
            return self._host_timed(reply, iterations, warmup)
        window = edge_window(capture, before, EnergyWindow(0, "", iterations, warmup, [], capture.rate_hz))
        hint = (f"check the timestamp wire from the DUT's GPIO through the level shifter to the monitor's "
                f"{capture.monitor.capabilities.timestamp_input}")
        framed = len(window.edges) >= 2
        problem = "; ".join(window.problems + ([] if framed else [hint])) or None
        return Timed(window.seconds if framed else None, reply, {"window": window, "problem": problem})

    def _host_timed(self, reply, iterations: int, warmup: int) -> Timed:
        capture, monitor = self.context.capture, self.context.capture.monitor
        window = EnergyWindow(0, "", iterations, warmup, [], capture.rate_hz)
        hold_us = self.req.board.timestamp.get("hold_us")
        window.extra.update(edge_timing="host", edge_uncertainty_s=monitor.edge_uncertainty_s,
                            timestamp_hold_us=hold_us)
        if hold_us is None:
            window.extra["note"] = ("the board gives no timestamp.hold_us: the second edge is late by the pin's hold "
                                    "and the window that much long")
        if set(reply.arrived) != {"start", "done"}:
            problem = "no arrival times for the DUT's m-infer-start / m-infer-done lines: the edges cannot be placed"
            return Timed(None, reply, {"window": frame_window(window, [], 0), "problem": problem})
        instants = (reply.arrived["start"],
                    reply.arrived["done"] - _wire_s("m-infer-done", self.req.baud) - (hold_us or 0) / 1e6)
        indices = [int(monitor.index_at(t)) for t in instants]
        capture.wait(lambda c: c.received > indices[-1], EDGE_WAIT_S)
        placed = []
        for index in indices:
            try:
                placed.append(capture.place_edge(index))
            except ValueError as exc:
                window.problems.append(f"an edge cannot be placed: {exc}")
        dropped = capture.dropped_between(indices[0], indices[-1]) if len(placed) == 2 else 0
        window = frame_window(window, placed, dropped)
        if len(placed) == 2:
            span = monitor.edge_uncertainty_s * capture.rate_hz  # samples either side each edge may be off by
            window.quantisation_j = (span + 1) * (placed[0].sample_j + placed[1].sample_j)
        problem = "; ".join(window.problems) or None
        return Timed(window.seconds if len(placed) == 2 else None, reply, {"window": window, "problem": problem})

    def record(self, index: int, name: str, data: bytes, iterations: int, timed: Timed,
               attempts: list) -> EnergyWindow:
        window: EnergyWindow = timed.details["window"]
        window.index, window.input = index, name
        for problem in window.problems:
            self.log(f"window {index}: {problem}")
        window.attempts, window.results = attempts, timed.reply.results
        return window


def edge_window(capture, before: int, window: EnergyWindow) -> EnergyWindow:
    """The window framed by the edges the monitor saw after the first `before`: both awaited,
    then a moment for a spurious extra one to arrive too."""
    capture.wait(lambda c: len(c.edges) >= before + 2, EDGE_WAIT_S)
    capture.settle(wall_s=0.05, device_s=0.05)
    new = capture.edges_since(before)
    dropped = capture.dropped_between(new[0].index, new[-1].index) if len(new) >= 2 else 0
    return frame_window(window, new, dropped)


def _wire_s(line: str, baud: int) -> float:
    """How long a line and its CR LF take on a UART (8N1: 10 bits a byte)."""
    return (len(line) + 2) * 10 / baud
