"""Energy windows from timestamp edges (tiny_protocol.md §6.3).

A window is framed by the two edges the DUT makes around one `infer N W`: its energy is the
sum of the samples after the one holding the first edge, through the one holding the second
(the edges' sub-sample positions are unknown, so each end is uncertain by one sample: that is
the quantisation bound reported with every window). Edges before the command (the boot pulse,
a `timestamp` probe) are not the window's; more than two new edges, fewer than two, or
samples lost inside the window are flagged, and such a window is never reported as valid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .. import rules


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

    @property
    def energy_uj_per_inf(self) -> float | None:
        return None if self.energy_j is None else self.energy_j * 1e6 / self.inferences

    @property
    def power_mw(self) -> float | None:
        return None if self.energy_j is None or not self.seconds else self.energy_j / self.seconds * 1e3

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(
            energy_uj=None if self.energy_j is None else self.energy_j * 1e6,
            energy_uj_per_inf=self.energy_uj_per_inf,
            power_mw=self.power_mw,
            quantisation_uj=None if self.quantisation_j is None else self.quantisation_j * 1e6,
            throughput_inf_per_s=self.inferences / self.seconds if self.seconds else None,
            meets_min_window=bool(self.seconds and self.seconds >= rules.MIN_WINDOW_S),
        )
        return data


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
