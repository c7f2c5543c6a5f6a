"""The energy capture: a thread pulls chunks from the monitor, reduces them as they arrive and
spills the raw samples to the run directory, so memory does not grow with capture length.

On disk (`capture/` in the run directory), readable with `read_capture`:
    meta.json      rate_hz, voltage_v, monitor identity, sample dtype
    energy.f4      energy per sample in joules, little-endian float32, one value per sample
                   index from 0 (samples the monitor lost are NaN, so position == index)
    edges.jsonl    one object per timestamp edge: {"index": i, "cumulative_j": E}, where E is
                   the energy of samples 0..i inclusive (float64 running sum)
In memory only the running sum and the per-edge records are kept.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from energy_monitor import MonitorError

from .rundir import write_failure

SAMPLE_DTYPE = "<f4"


@dataclass(frozen=True)
class Edge:
    index: int  # the sample during which the edge happened
    cumulative_j: float  # energy of samples 0..index inclusive
    sample_j: float  # the energy of that one sample (the edge's quantisation)


class Capture:
    def __init__(self, monitor, directory: Path, voltage_v: float | None, identity: dict):
        """voltage_v: the supply the monitor sets (None when the monitor measures it per sample)."""
        self.monitor = monitor
        self.directory = directory
        self.voltage_v = voltage_v
        directory.mkdir(parents=True, exist_ok=True)
        self._samples = open(directory / "energy.f4", "wb")
        self._edges_file = open(directory / "edges.jsonl", "w", encoding="utf-8")
        self._identity = identity
        self._lock = threading.Condition()
        self._total = 0.0  # running energy of every sample received
        self.received = 0  # next sample index expected
        self.edges: list[Edge] = []
        self.dropped: list[tuple[int, int]] = []  # (first index, count) of samples the monitor lost
        self.error: Exception | None = None
        self._volts_sum = 0.0  # for instruments that measure the supply (Joulescope)
        self._volts_count = 0
        self.last_data_wall = time.monotonic()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self.rate_hz: float | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, rate_hz: float) -> None:
        self.rate_hz = rate_hz
        (self.directory / "meta.json").write_text(json.dumps(
            {"rate_hz": rate_hz, "voltage_v": self.voltage_v, "monitor": self._identity, "dtype": SAMPLE_DTYPE,
             "unit": "J per sample", "files": {"samples": "energy.f4", "edges": "edges.jsonl"}}, indent=2) + "\n")
        self.monitor.start(rate_hz)
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the monitor's stream and take in what was still in flight."""
        try:
            self.monitor.stop()
        finally:
            self._halt.set()
            if self._thread:
                self._thread.join(timeout=10)
            for file in (self._samples, self._edges_file):
                try:
                    file.close()
                except OSError:  # the last buffered bytes did not fit; the error that stopped the run says so
                    pass

    # -- the reducer ---------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                chunk = self.monitor.read_chunk(0.1)
            except MonitorError as exc:
                with self._lock:
                    self.error = exc
                    self._lock.notify_all()
                return
            if chunk is None:
                if self._halt.is_set():
                    return
                continue
            try:
                self._take(chunk)
            except OSError as exc:  # a full disk: the run stops with what the files hold so far
                with self._lock:
                    self.error = write_failure(self.directory / "energy.f4", exc)
                    self._lock.notify_all()
                return

    def _take(self, chunk) -> None:
        energy = chunk.energy(self.voltage_v)
        if chunk.voltage_v is not None and np.ndim(chunk.voltage_v):
            self._volts_sum += float(np.sum(chunk.voltage_v, dtype=np.float64))
            self._volts_count += len(chunk.voltage_v)
        with self._lock:
            gap = chunk.first_index - self.received
            if gap > 0:  # samples the instrument lost: keep file position == sample index
                self.dropped.append((self.received, gap))
                self._samples.write(np.full(gap, np.nan, dtype=SAMPLE_DTYPE).tobytes())
                self.received = chunk.first_index
            # Running sums in float64; a prefix sum only where an edge needs one (edges are few).
            for index in chunk.edges:
                local = index - chunk.first_index
                if 0 <= local < len(energy):
                    edge = Edge(index, self._total + float(np.sum(energy[:local + 1], dtype=np.float64)),
                                float(energy[local]))
                elif local < 0:  # the edge's sample came in an earlier chunk
                    edge = Edge(index, self._total, 0.0)
                else:
                    continue
                self.edges.append(edge)
                self._edges_file.write(json.dumps({"index": edge.index, "cumulative_j": edge.cumulative_j}) + "\n")
            self._total += float(np.sum(energy, dtype=np.float64))
            self.received += len(energy)
            self._samples.write(np.ascontiguousarray(energy, dtype=SAMPLE_DTYPE))
            self._edges_file.flush()
            self.last_data_wall = time.monotonic()
            self._lock.notify_all()

    def place_edge(self, index: int) -> Edge:
        """An edge the runner placed itself (a monitor with no edge input), at a sample already
        received: its cumulative energy is the running total less the samples after it on disk."""
        with self._lock:
            if not 0 <= index < self.received:
                raise ValueError(f"sample {index} is not in the capture (0..{self.received - 1})")
            self._samples.flush()
            after = np.fromfile(self.directory / "energy.f4", dtype=SAMPLE_DTYPE, count=self.received - index,
                                offset=index * np.dtype(SAMPLE_DTYPE).itemsize)
            sample = float(np.nan_to_num(after[0]))
            edge = Edge(index, self._total - float(np.nansum(after[1:], dtype=np.float64)), sample)
            self.edges.append(edge)
            self._edges_file.write(json.dumps({"index": edge.index, "cumulative_j": edge.cumulative_j,
                                               "placed_by": "host"}) + "\n")
            self._edges_file.flush()
            return edge

    # -- questions the energy procedure asks -------------------------------------------------------
    def wait(self, predicate, timeout_s: float) -> bool:
        """Block until predicate(self) holds (under the lock) or the timeout passes."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while not predicate(self):
                if self.error:
                    raise self.error
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.1))
            return True

    def settle(self, wall_s: float = 0.3, device_s: float = 0.1) -> None:
        """Let edges already in flight arrive: wait wall_s, and for device_s of new samples."""
        time.sleep(wall_s)
        target = self.received + int(device_s * self.rate_hz)
        self.wait(lambda c: c.received >= target, timeout_s=5.0)

    @property
    def measured_voltage_v(self) -> float | None:
        """Mean supply voltage the instrument measured (None if it does not measure one)."""
        return self._volts_sum / self._volts_count if self._volts_count else None

    def edge_count(self) -> int:
        with self._lock:
            return len(self.edges)

    def edges_since(self, count: int) -> list[Edge]:
        with self._lock:
            return self.edges[count:]

    def dropped_between(self, first: int, last: int) -> int:
        with self._lock:
            return sum(max(0, min(start + count, last + 1) - max(start, first)) for start, count in self.dropped)


def read_capture(directory: Path) -> tuple[dict, np.ndarray, list[dict]]:
    """(meta, energy per sample as a read-only memory map, edges) of a capture folder."""
    meta = json.loads((directory / "meta.json").read_text())
    path = directory / "energy.f4"
    samples = np.memmap(path, dtype=SAMPLE_DTYPE, mode="r") if path.stat().st_size else np.empty(0, SAMPLE_DTYPE)
    edges = [json.loads(line) for line in (directory / "edges.jsonl").read_text().splitlines() if line]
    return meta, samples, edges
