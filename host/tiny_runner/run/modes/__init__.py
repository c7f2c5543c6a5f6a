"""The measurement procedures, one module per mode, each driving a connected DUT. A benchmark
names the procedures that measure it (benchmarks/base.py); they are looked up here by name."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Callable

from ...errors import UsageError

# procedure name -> "module:class" in this package
PROCEDURES = {
    "performance": "performance:PerformanceRun",
    "accuracy": "accuracy:AccuracyRun",
    "energy": "energy:EnergyRun",
    "streaming": "streaming:StreamingRun",
}


@dataclass
class RunContext:
    """What a procedure works with, and all it gets: the request, the connected DUT, the energy
    capture (energy mode), the host's golden check (--check-outputs), the recorder it hands every
    result to as it is measured (so a failure keeps what was measured), the step log and the
    progress shown to the person."""

    request: object  # session.MeasureRequest
    dut: object  # dut.DutClient
    recorder: object  # recorder.Recorder
    log: Callable[[str], None]
    progress: object  # progress.Progress
    capture: object | None = None  # capture.Capture
    golden: object | None = None  # golden.GoldenCheck
    relay: object | None = None  # the pass-through board (relays/base.py), for a streamed benchmark


class Procedure:
    def __init__(self, context: RunContext):
        self.context = context
        self.req = context.request
        self.dut = context.dut
        self.golden = context.golden
        self.recorder = context.recorder
        self.log = context.log
        self.progress = context.progress

    def run(self) -> None:
        raise NotImplementedError


def procedure_for(benchmark, mode: str) -> type[Procedure]:
    """The procedure that measures this benchmark in this mode; UsageError when it has none."""
    if not benchmark.supports(mode) or mode not in PROCEDURES:
        raise UsageError(f"{benchmark.id} is not measured in {mode} mode; its modes: {', '.join(benchmark.procedures)}")
    module, _, name = PROCEDURES["streaming" if benchmark.streaming else mode].partition(":")
    return getattr(import_module(f".{module}", __name__), name)
