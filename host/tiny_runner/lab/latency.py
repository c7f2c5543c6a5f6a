"""The virtual board's latency model: a board profile turns a model's MAC count into microseconds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LatencyModel:
    clock_hz: int
    cycles_per_mac: float
    cycles_per_inference: float = 0.0

    @classmethod
    def from_board(cls, board) -> "LatencyModel":
        sim = board.simulation
        return cls(board.clock_hz, float(sim["cycles_per_mac"]), float(sim.get("cycles_per_inference", 0)))

    def inference_us(self, macs: int) -> float:
        return (macs * self.cycles_per_mac + self.cycles_per_inference) / self.clock_hz * 1e6
