"""The Otii's declaration (see energy_monitor.plugin)."""

from __future__ import annotations

from ..plugin import FoundDevice, MonitorPlugin, switches_of
from .driver import RATES_HZ, VOLTAGE_RANGE_MV
from .protocol import DEFAULT_ADDRESS


def _driver(target, log):
    from .driver import Otii

    return Otii(target, log=log)


def _emulator(bench, switches: dict, seed: int):
    from .emulator import Faults, OtiiEmulator

    return OtiiEmulator(bench, faults=Faults.from_dict(switches), seed=seed)


def _faults():
    from .emulator import Faults

    return switches_of(Faults)


def _scan():
    """The Arcs and Aces the Otii server on this machine knows (they are not serial ports to us)."""
    from ..errors import MonitorError
    from .protocol import OtiiConnection

    host, port = DEFAULT_ADDRESS
    connection = OtiiConnection(host, port, timeout_s=1.0)
    try:
        connection.connect()
    except MonitorError:
        return [], None  # no server here: no Otii to list
    try:
        devices = connection.request("otii_get_devices", {"timeout": 1}).get("devices", [])
    except MonitorError as exc:
        return [], f"the Otii server at {host}:{port} did not list its devices: {exc}"
    finally:
        connection.close()
    return [FoundDevice(d["device_id"], f"{host}:{port}", f"Otii {d.get('type')} '{d.get('name')}' ({d['device_id']})")
            for d in devices if d.get("type") in ("Arc", "Ace")], None


PLUGIN = MonitorPlugin(
    name="otii",
    description="Qoitech Otii Arc / Ace, through the Otii 3 TCP server (default 127.0.0.1:1905)",
    port_required=False,
    rates_hz=tuple(map(float, RATES_HZ)),
    default_rate_hz=float(RATES_HZ[0]),
    voltage_range_mv=VOLTAGE_RANGE_MV,
    usb_ids=(),  # reached through its server, not a serial port
    driver=_driver,
    emulator=_emulator,
    emulated_driver=_driver,  # the emulator is a TCP server: the real driver talks to it
    switches=_faults(),
    lab_samples_per_s=400_000,
    scan=_scan,
    scan_via="the Otii server",
    target_form="HOST:PORT",
    servable=True,
)
