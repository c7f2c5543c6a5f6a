"""The STLINK-V3PWR's declaration (see energy_monitor.plugin)."""

from __future__ import annotations

from ..plugin import FoundDevice, MonitorPlugin, switches_of
from .driver import RATES_HZ, USB_ID, VOLTAGE_RANGE_MV

POWER_PORT_NAME = "Virtual COM Port PWR"  # ST's script finds the port by this in its description


def _driver(port, log):
    from .driver import StlinkV3pwr

    return StlinkV3pwr(port, log=log)


def _emulator(bench, switches: dict, seed: int):
    from .emulator import Faults, StlinkV3pwrEmulator

    return StlinkV3pwrEmulator(bench, faults=Faults.from_dict(switches), seed=seed)


def _faults():
    from .emulator import Faults

    return switches_of(Faults)


def _scan():
    """The probe's power ports. 0483:3757 is also its target-UART port, so a port is taken when
    its USB interface or description names the power port ("STLink Virtual COM Port PWR"), and, where no
    port of that ID says which it is, when it answers `powershield` as a V3PWR."""
    from serial.tools import list_ports

    from .driver import answers_powershield

    ports = [p for p in list_ports.comports() if (p.vid, p.pid) == USB_ID]
    named = [p for p in ports if POWER_PORT_NAME in f"{p.interface or ''} {p.description or ''}"]
    found = [(p, p.serial_number or "") for p in named]
    if ports and not named:
        found = [(p, probe_id) for p in ports if (probe_id := answers_powershield(p.device))]
    return [FoundDevice(p.device, p.device, f"STLINK-V3PWR {probe_id} power port".replace("  ", " "))
            for p, probe_id in found], None


PLUGIN = MonitorPlugin(
    name="stlink-v3pwr",
    description="ST STLINK-V3PWR, its power virtual COM port (1.6-3.6 V, up to 100 kS/s)",
    port_required=True,
    rates_hz=tuple(map(float, RATES_HZ)),
    default_rate_hz=10_000.0,
    voltage_range_mv=VOLTAGE_RANGE_MV,
    usb_ids=(),  # its USB ID is shared with the probe's other ports: `scan` tells the power port apart
    driver=_driver,
    emulator=_emulator,
    emulated_driver=_driver,  # the emulator is a pty: the real driver opens it
    switches=_faults(),
    lab_samples_per_s=200_000,
    scan=_scan,
    scan_via="USB ID 0483:3757 and the powershield answer",
)
