"""The measurement procedures, one module per mode, each driving a connected DUT. A benchmark
names the procedures that measure it (benchmarks/base.py); they are looked up here by name."""

from __future__ import annotations

from importlib import import_module

from ..errors import UsageError

# procedure name -> "module:class" in this package
PROCEDURES = {
    "performance": "performance:PerformanceRun",
    "accuracy": "accuracy:AccuracyRun",
    "energy": "energy:EnergyRun",
}


class Procedure:
    """What every mode gets from the session: the request, the DUT, the golden check, the
    results dict it fills in place (so a failure keeps what was measured), log and progress."""

    def __init__(self, session, dut, golden):
        self.session = session
        self.req = session.req
        self.dut = dut
        self.golden = golden
        self.results = session.results
        self.log = session.run_dir.log
        self.progress = session.progress

    def run(self) -> None:
        raise NotImplementedError


def procedure_for(benchmark, mode: str) -> type[Procedure]:
    """The procedure that measures this benchmark in this mode; UsageError when it has none."""
    if not benchmark.supports(mode) or mode not in PROCEDURES:
        raise UsageError(f"{benchmark.id} is not measured in {mode} mode; its modes: {', '.join(benchmark.procedures)}")
    module, _, name = PROCEDURES[mode].partition(":")
    return getattr(import_module(f".{module}", __name__), name)
