"""An SMU driver run against its emulated instrument, as the SCPI driver tests do it."""

from __future__ import annotations

from support.power_bench import ConstantBench, read_for


class SuppliedBench(ConstantBench):
    """A constant load that sees the SMU's voltage only while its output is on."""

    def supply_v(self):
        return (self.volts or 0.0) if self.powered else 0.0


def run_smu(emulator_type, faults, rate_hz: float, seconds: float = 0.6, binary: bool = True,
            target_options: str = ""):
    """Open, supply 1.8 V, measure `seconds` of wall time; (smu, chunks, error, bench, emulator)."""
    from energy_monitor.scpi.smu import ScpiSmu

    bench = SuppliedBench(0.02, speed=1)
    emulator = emulator_type(bench, faults=faults)
    emulator.start()
    smu = ScpiSmu(emulator.address + target_options, binary=binary, timeout_s=1.0)
    try:
        smu.open()
        smu.set_voltage(1800)
        smu.power(True)
        smu.start(rate_hz)
        chunks, error = read_for(smu, seconds)
        smu.close()
    finally:
        emulator.shutdown()
    return smu, chunks, error, bench, emulator
