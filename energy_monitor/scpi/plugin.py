"""The SCPI SMU's declaration (see energy_monitor.plugin)."""

from __future__ import annotations

import warnings

from ..plugin import FoundDevice, MonitorPlugin, switches_of
from .driver import MAINFRAMES, RATES_HZ, VOLTAGE_RANGE_MV


def _driver(target, log):
    from .driver import KeysightSmu

    return KeysightSmu(target, log=log)


def _emulator(bench, switches: dict, seed: int):
    from .emulator import Faults, ScpiSmuEmulator

    return ScpiSmuEmulator(bench, faults=Faults.from_dict(switches), seed=seed)


def _faults():
    from .emulator import Faults

    return switches_of(Faults)


def _visa_sessions():
    """(interface, lister) for each interface pyvisa-py can reach here, serial ones left out."""
    from pyvisa_py.sessions import Session

    for (interface, _kind), session in Session.iter_valid_session_classes():
        if "asrl" not in interface.name:  # ASRL and Prologix-over-serial: both list serial ports
            yield interface.name.upper(), session.list_resources


def scan(manager=None, sessions=None):
    """The N6705s VISA lists (USB-TMC and LAN instruments), each asked `*IDN?`. Serial (ASRL)
    resources are not listed at all: a query could disturb whatever else is on a serial port.
    Each interface is listed on its own (pyvisa-py's own list_resources stops at the first one
    that fails), and one that cannot list is a note, not a failure of `detect`."""
    from ..errors import MonitorError
    from .visa import BACKEND, import_pyvisa

    try:
        pyvisa = import_pyvisa()
    except MonitorError as exc:
        return [], str(exc)
    resources, failures = [], []
    with warnings.catch_warnings():  # pyvisa-py warns of each discovery it lacks a package for
        warnings.simplefilter("ignore")
        for interface, lister in (_visa_sessions() if sessions is None else sessions):
            try:
                resources += [r for r in lister() if not r.upper().startswith("ASRL")]
            except Exception as exc:
                failures.append(f"{interface}: {exc}")
    note = f"VISA could not list its {', '.join(failures)}" if failures else None
    if not resources:
        return [], note
    try:
        manager = manager or pyvisa.ResourceManager(BACKEND)
    except Exception as exc:
        return [], f"VISA could not start: {exc}"
    found = []
    for resource in resources:
        try:
            with manager.open_resource(resource, timeout=1000, read_termination="\n",
                                       write_termination="\n") as session:
                idn = session.query("*IDN?").strip()
        except Exception:  # not answering *IDN?: not an instrument we drive
            continue
        fields = [f.strip() for f in idn.split(",")]
        if len(fields) == 4 and fields[1] in MAINFRAMES:
            found.append(FoundDevice(resource, resource, f"{fields[0]} {fields[1]} {fields[2]} ({resource})"))
    return found, note


PLUGIN = MonitorPlugin(
    name="scpi",
    description="Keysight N6705 with an N678xA SMU module, through VISA (pyvisa-py: USB-TMC, LAN socket, VXI-11)",
    port_required=False,
    rates_hz=RATES_HZ,
    default_rate_hz=RATES_HZ[0],
    voltage_range_mv=VOLTAGE_RANGE_MV,
    usb_ids=(),  # reached through VISA, not a serial port
    driver=_driver,
    emulator=_emulator,
    emulated_driver=_driver,  # the emulator is a socket instrument: the real driver opens it
    switches=_faults(),
    lab_samples_per_s=RATES_HZ[0],  # the lab runs it in real time anyway (edge_input=False)
    scan=scan,
    scan_via="VISA (pyvisa-py) and *IDN?",
    target_form="VISA_RESOURCE[,channel=N]",
    servable=True,
    edge_input=False,
)
