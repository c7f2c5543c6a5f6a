"""The Monitor interface every energy monitor driver implements.

Lifecycle: open() (identify, take control) -> set_voltage() / power() where the instrument can
-> start(rate_hz) -> read_chunk() repeatedly -> stop() -> close(). Capabilities are declared
by each driver, never guessed from its name.

Samples arrive in Chunks. Sample indices are absolute and count from 0 at start(): a chunk
holds samples [first_index, first_index + len). Edges of the timestamp input are reported as
the absolute index of the sample during which the edge happened.

An instrument with no edge input (an SMU) declares `edges="host"`: the runner times the DUT's
`m-infer-start` / `m-infer-done` lines on the host's clock and asks the driver which sample
each instant falls in (`index_at`); `edge_uncertainty_s` is how far that can be off.
"""

from __future__ import annotations

import queue
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Capabilities:
    model: str
    can_set_voltage: bool
    voltage_range_mv: tuple[int, int] | None  # None when the instrument cannot source
    can_switch_power: bool
    sample_rates_hz: tuple[float, ...]
    output: str  # "energy" (joules per sample) or "current_voltage" (A and V per sample)
    timestamp_input: str  # where the DUT's timestamp GPIO goes, e.g. "D7"
    edges: str = "stream"  # "stream": edges come in the samples; "host": placed from the DUT's lines (index_at)


@dataclass
class Chunk:
    """A run of consecutive samples plus what happened during them."""

    first_index: int
    rate_hz: float
    energy_j: np.ndarray | None = None  # energy per sample (energy-output monitors)
    current_a: np.ndarray | None = None  # current per sample (current/voltage monitors)
    voltage_v: np.ndarray | None = None
    edges: list[int] = field(default_factory=list)  # absolute sample indices of timestamp edges
    dropped: int = 0  # samples the instrument reports lost just before this chunk
    notes: list[str] = field(default_factory=list)  # instrument messages seen in the stream

    def __len__(self) -> int:
        data = self.energy_j if self.energy_j is not None else self.current_a
        return 0 if data is None else len(data)

    def energy(self, voltage_v: float | None = None) -> np.ndarray:
        """Energy per sample in joules, whatever the instrument delivers."""
        if self.energy_j is not None:
            return self.energy_j
        volts = self.voltage_v if self.voltage_v is not None else voltage_v
        if volts is None:
            raise ValueError("current-only samples need the supply voltage to give energy")
        energy = np.multiply(self.current_a, volts, dtype=np.float32)  # float32 like the samples; summed in float64
        energy *= np.float32(1.0 / self.rate_hz)
        return energy


class Monitor(ABC):
    capabilities: Capabilities

    @abstractmethod
    def open(self) -> dict:
        """Connect, identify and take control; returns identity (model, firmware, serial...)."""

    @abstractmethod
    def close(self) -> None: ...

    def set_voltage(self, millivolts: int) -> None:
        raise NotImplementedError(f"{self.capabilities.model} cannot set the DUT supply voltage")

    def power(self, on: bool) -> None:
        raise NotImplementedError(f"{self.capabilities.model} cannot switch DUT power")

    @abstractmethod
    def start(self, rate_hz: float) -> None:
        """Begin streaming samples at rate_hz."""

    def read_chunk(self, timeout_s: float) -> Chunk | None:
        """The next chunk of samples, or None if none arrived within timeout_s. Drivers put
        Chunks (or the exception that ended the stream) on self._chunks from their own thread."""
        try:
            item = self._chunks.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if isinstance(item, Exception):
            raise item
        return item

    edge_uncertainty_s = 0.0  # host-placed edges: how far index_at's instant may be from the sample's

    def index_at(self, host_time_s: float) -> float:
        """The (fractional) sample index at a time.monotonic() instant, for `edges="host"` monitors."""
        raise NotImplementedError(f"{self.capabilities.model} reports its edges in the sample stream")

    @abstractmethod
    def stop(self) -> None:
        """Stop streaming (samples still in flight are delivered by read_chunk until None)."""

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
