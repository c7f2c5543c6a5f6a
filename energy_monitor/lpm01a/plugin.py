"""The LPM01A's declaration (see energy_monitor.plugin)."""

from __future__ import annotations

from ..plugin import MonitorPlugin, switches_of
from .driver import RATES_HZ, VOLTAGE_RANGE_MV


def _driver(port, log):
    from .driver import Lpm01a

    return Lpm01a(port, log=log)


def _emulator(bench, switches: dict, seed: int):
    from .emulator import Lpm01aEmulator, Quirks

    return Lpm01aEmulator(bench, quirks=Quirks.from_dict(switches), seed=seed)


def _quirks():
    from .emulator import Quirks

    return switches_of(Quirks)


PLUGIN = MonitorPlugin(
    name="lpm01a",
    description="ST X-NUCLEO-LPM01A (PowerShield), USB serial",
    port_required=True,
    rates_hz=tuple(map(float, RATES_HZ)),
    default_rate_hz=1000.0,
    voltage_range_mv=VOLTAGE_RANGE_MV,
    usb_ids=((0x0483, 0x5740),),
    driver=_driver,
    emulator=_emulator,
    emulated_driver=_driver,  # the emulator is a pty: the real driver opens it
    switches=_quirks(),
    lab_samples_per_s=200_000,
)
