"""One timed `infer N W` as a run records it: a calibration probe, or one attempt at a window."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TimedInfer:
    inferences: int
    seconds: float | None  # on the run's time base; None: it could not be timed (a missing edge)

    def to_json(self) -> dict:
        return {"inferences": self.inferences, "seconds": self.seconds}

    @classmethod
    def from_json(cls, data: dict) -> "TimedInfer":
        return cls(data["inferences"], data["seconds"])
