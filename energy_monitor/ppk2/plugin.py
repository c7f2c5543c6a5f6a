"""The PPK2's declaration (see energy_monitor.plugin)."""

from __future__ import annotations

from ..plugin import MonitorPlugin, switches_of
from . import codec


def _driver(port, log):
    from .driver import Ppk2

    return Ppk2(port, mode="source", log=log)


def _emulator(bench, switches: dict, seed: int):
    from .emulator import Faults, Ppk2Emulator

    return Ppk2Emulator(bench, faults=Faults.from_dict(switches), seed=seed)


def _faults():
    from .emulator import Faults

    return switches_of(Faults)


PLUGIN = MonitorPlugin(
    name="ppk2",
    description="Nordic Power Profiler Kit II, USB serial, source-meter mode",
    port_required=True,
    rates_hz=(float(codec.SAMPLE_RATE_HZ),),
    default_rate_hz=float(codec.SAMPLE_RATE_HZ),
    voltage_range_mv=codec.VOLTAGE_RANGE_MV,
    usb_ids=((0x1915, 0xC00A),),
    driver=_driver,
    emulator=_emulator,
    emulated_driver=_driver,  # the emulator is a pty: the real driver opens it
    switches=_faults(),
    lab_samples_per_s=500_000,
    remote_serial=False,  # 100 kS/s of 4-byte samples, 400 kB/s with no flow control
)
