"""Energy windows from timestamp edges (tiny_protocol.md §6.3).

A window is framed by the two edges the DUT makes around one `infer N W`: its energy is the
sum of the samples after the one holding the first edge, through the one holding the second
(the edges' sub-sample positions are unknown, so each end is uncertain by one sample: that is
the quantisation bound reported with every window). Edges before the command (the boot pulse,
a `timestamp` probe) are not the window's; more than two new edges, fewer than two, or
samples lost inside the window are flagged, and such a window is never reported as valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..run import rules
from .infer import TimedInfer


@dataclass
class WindowTruth:
    """On the virtual lab: the energy the bench really drew between a window's two edges."""

    energy_uj: float
    seconds: float
    error_pct: float | None  # the measured energy's error against it


@dataclass
class EnergyWindow:
    index: int
    input: str
    inferences: int
    warmup: int
    edges: list[int]  # sample indices of the edges this infer made
    rate_hz: float
    energy_j: float | None = None
    seconds: float | None = None
    quantisation_j: float | None = None  # one sample at each end
    dropped_samples: int = 0
    problems: list[str] = field(default_factory=list)
    attempts: list[TimedInfer] = field(default_factory=list)  # this window's infers, a short one re-run
    results: list[float] | None = None  # the DUT's result vector for the window's input
    outputs_match_host: bool | None = None  # --check-outputs: the vector agrees with the host's TFLM run
    truth: WindowTruth | None = None
    extra: dict = field(default_factory=dict)  # keys of a recorded window this version does not know

    @property
    def energy_uj(self) -> float | None:
        return None if self.energy_j is None else self.energy_j * 1e6

    @property
    def energy_uj_per_inf(self) -> float | None:
        return None if self.energy_j is None else self.energy_j * 1e6 / self.inferences

    @property
    def power_mw(self) -> float | None:
        return None if self.energy_j is None or not self.seconds else self.energy_j / self.seconds * 1e3

    @property
    def quantisation_uj(self) -> float | None:
        return None if self.quantisation_j is None else self.quantisation_j * 1e6

    @property
    def throughput_inf_per_s(self) -> float | None:
        return self.inferences / self.seconds if self.seconds else None

    @property
    def latency_ms(self) -> float | None:
        return self.seconds * 1e3 / self.inferences if self.seconds else None

    @property
    def meets_min_window(self) -> bool:
        return bool(self.seconds and self.seconds >= rules.MIN_WINDOW_S)

    def to_json(self) -> dict:
        """The window as windows.jsonl and results.json hold it."""
        data = {
            "index": self.index, "input": self.input, "inferences": self.inferences, "warmup": self.warmup,
            "edges": list(self.edges), "rate_hz": self.rate_hz, "energy_j": self.energy_j, "seconds": self.seconds,
            "quantisation_j": self.quantisation_j, "dropped_samples": self.dropped_samples,
            "problems": list(self.problems), "energy_uj": self.energy_uj, "energy_uj_per_inf": self.energy_uj_per_inf,
            "power_mw": self.power_mw, "quantisation_uj": self.quantisation_uj,
            "throughput_inf_per_s": self.throughput_inf_per_s, "meets_min_window": self.meets_min_window,
            "attempts": [a.to_json() for a in self.attempts], "results": self.results, "latency_ms": self.latency_ms,
        }
        if self.outputs_match_host is not None:
            data["outputs_match_host"] = self.outputs_match_host
        if self.truth is not None:
            data.update(truth_energy_uj=self.truth.energy_uj, truth_seconds=self.truth.seconds,
                        truth_error_pct=self.truth.error_pct)
        data.update(self.extra)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "EnergyWindow":
        truth = None
        if "truth_energy_uj" in data:
            truth = WindowTruth(data["truth_energy_uj"], data["truth_seconds"], data["truth_error_pct"])
        return cls(
            data["index"], data["input"], data["inferences"], data["warmup"], list(data["edges"]), data["rate_hz"],
            data["energy_j"], data["seconds"], data["quantisation_j"], data["dropped_samples"], list(data["problems"]),
            [TimedInfer.from_json(a) for a in data.get("attempts", [])], data.get("results"),
            data.get("outputs_match_host"), truth, {k: v for k, v in data.items() if k not in _ENERGY_WINDOW_KEYS})


# every key EnergyWindow.to_json writes: the rest of a recorded window is kept as it was
_ENERGY_WINDOW_KEYS = frozenset((
    "index", "input", "inferences", "warmup", "edges", "rate_hz", "energy_j", "seconds", "quantisation_j",
    "dropped_samples", "problems", "energy_uj", "energy_uj_per_inf", "power_mw", "quantisation_uj",
    "throughput_inf_per_s", "meets_min_window", "attempts", "results", "latency_ms", "outputs_match_host",
    "truth_energy_uj", "truth_seconds", "truth_error_pct",
))


def frame_window(window: EnergyWindow, new_edges: list, dropped: int) -> EnergyWindow:
    """Fill in a window from the edges (capture.Edge) that arrived during its infer."""
    window.edges = [e.index for e in new_edges]
    window.dropped_samples = dropped
    if len(new_edges) < 2:
        window.problems.append(f"missing timestamp edge: {len(new_edges)} of 2 seen")
        return window
    if len(new_edges) > 2:
        window.problems.append(f"spurious timestamp edges: {len(new_edges)} seen, 2 expected")
    first, last = new_edges[0], new_edges[-1]
    window.energy_j = last.cumulative_j - first.cumulative_j
    window.seconds = (last.index - first.index) / window.rate_hz
    window.quantisation_j = first.sample_j + last.sample_j
    if dropped:
        window.problems.append(f"{dropped} samples lost inside the window")
    return window
