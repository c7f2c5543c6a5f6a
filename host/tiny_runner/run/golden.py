"""--check-outputs: compare every DUT result vector with the host's own TFLM run.

The host converts the same downloaded bytes the way the reference firmware does, runs the same
model in a TFLM worker process, formats the output as the reference port would print it, and
compares value by value. A port with a kernel bug, a wrong input conversion or a corrupting
link shows up here even when top-1 happens to survive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..benchmarks import get_benchmark
from ..model.tflm import TflmWorker
from ..protocol.dut import parse_results

# Printed values carry 3 decimals; a port that rounds where the reference truncates differs by
# up to 0.001, which is not a mismatch. Anything larger is.
DEFAULT_TOLERANCE = 0.0011
_EXAMPLES_KEPT = 5


@dataclass
class GoldenCheck:
    benchmark_id: str
    model_path: Path
    tolerance: float = DEFAULT_TOLERANCE
    checked: int = 0
    mismatches: int = 0
    top1_disagreements: int = 0
    max_abs_diff: float = 0.0
    examples: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self._benchmark = get_benchmark(self.benchmark_id)
        self._worker = TflmWorker(self.model_path)

    def expected(self, data: bytes) -> list[float]:
        tensor, floats = self._benchmark.convert_input(data, self._worker.input_quant)
        output = self._worker.run(tensor)
        return parse_results(self._benchmark.results_line(output, self._worker.output_quant, floats))

    def check(self, name: str, data: bytes, dut_values: list[float]) -> bool:
        """Record one comparison; True when the DUT's vector matches the host's."""
        host = self.expected(data)
        self.checked += 1
        if len(host) != len(dut_values):
            diff = float("inf")
        else:
            diff = float(np.max(np.abs(np.asarray(host) - np.asarray(dut_values)))) if host else 0.0
        self.max_abs_diff = max(self.max_abs_diff, diff)
        if len(host) > 1 and len(host) == len(dut_values) and int(np.argmax(host)) != int(np.argmax(dut_values)):
            self.top1_disagreements += 1
        ok = diff <= self.tolerance
        if not ok:
            self.mismatches += 1
            if len(self.examples) < _EXAMPLES_KEPT:
                self.examples.append({"input": name, "dut": dut_values, "host": host, "max_abs_diff": diff})
        return ok

    def summary(self) -> dict:
        return {
            "checked": self.checked,
            "mismatches": self.mismatches,
            "top1_disagreements": self.top1_disagreements,
            "max_abs_diff": self.max_abs_diff,
            "tolerance": self.tolerance,
            "examples": self.examples,
        }

    def close(self) -> None:
        self._worker.close()
