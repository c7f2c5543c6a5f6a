"""The SCPI SMUs' declaration (see energy_monitor.plugin): one plug-in for the families smu.py
tells apart by `*IDN?`; on a virtual board the `model` switch picks the emulated one."""

from __future__ import annotations

import warnings

from ..plugin import FoundDevice, MonitorPlugin, Switch, switches_of
from .smu import FAMILIES, RATES_HZ, VOLTAGE_RANGE_MV

KEITHLEY_MODELS = ("2450", "2460", "2461")


def _driver(target, log):
    from .smu import ScpiSmu

    return ScpiSmu(target, log=log)


def _emulated(switches: dict):
    """(emulator class, its Faults) for the `model` switch; ValueError for another model or a
    switch of the other emulator."""
    from . import keithley_emulator, keysight_emulator

    options = dict(switches)
    model = str(options.pop("model", "N6705C"))
    keithley = model in KEITHLEY_MODELS
    if not keithley and model != "N6705C":
        raise ValueError(f"switch model of the emulated scpi instrument: N6705C or {', '.join(KEITHLEY_MODELS)}, "
                         f"not {model!r}")
    module = keithley_emulator if keithley else keysight_emulator
    stray = sorted(set(options) - {s.name for s in switches_of(module.Faults)})
    if stray:
        raise ValueError(f"the emulated {model} has no switch {', '.join(stray)}")
    if keithley:
        options["model"] = model
    emulator = keithley_emulator.KeithleyEmulator if keithley else keysight_emulator.N6705Emulator
    return emulator, module.Faults.from_dict(options)


def _emulator(bench, switches: dict, seed: int):
    emulator, faults = _emulated(switches)
    return emulator(bench, faults=faults, seed=seed)


def _switches():
    """Both emulators' switches (each takes its own), and `model` choosing between them."""
    from . import keithley_emulator, keysight_emulator

    switches = {"model": Switch("model", str, "N6705C")}
    for faults in (keysight_emulator.Faults, keithley_emulator.Faults):
        for switch in switches_of(faults):
            switches.setdefault(switch.name, switch)
    return tuple(switches.values())


def _visa_sessions():
    """(interface, lister) for each interface pyvisa-py can reach here, serial ones left out."""
    from pyvisa_py.sessions import Session

    for (interface, _kind), session in Session.iter_valid_session_classes():
        if "asrl" not in interface.name:  # ASRL and Prologix-over-serial: both list serial ports
            yield interface.name.upper(), session.list_resources


def scan(manager=None, sessions=None):
    """The SMUs VISA lists (USB-TMC and LAN instruments), each asked `*IDN?`. Serial (ASRL)
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
        if len(fields) == 4 and any(family.drives(fields[1]) for family in FAMILIES):
            found.append(FoundDevice(resource, resource, f"{fields[0]} {fields[1]} {fields[2]} ({resource})"))
    return found, note


PLUGIN = MonitorPlugin(
    name="scpi",
    description="SCPI SMU: Keysight N6705 with an N678xA module, Keithley 2450 / 2460 / 2461, through VISA "
                "(pyvisa-py: USB-TMC, LAN socket, VXI-11)",
    port_required=False,
    rates_hz=RATES_HZ,
    default_rate_hz=RATES_HZ[0],
    voltage_range_mv=VOLTAGE_RANGE_MV,
    usb_ids=(),  # reached through VISA, not a serial port
    driver=_driver,
    emulator=_emulator,
    emulated_driver=_driver,  # the emulator is a socket instrument: the real driver opens it
    switches=_switches(),
    lab_samples_per_s=RATES_HZ[0],  # the lab runs it in real time anyway (edge_input=False)
    scan=scan,
    scan_via="VISA (pyvisa-py) and *IDN?",
    target_form="VISA_RESOURCE[,channel=N]",
    servable=True,
    edge_input=False,
    check_switches=_emulated,
)
